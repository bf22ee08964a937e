"""``make demo`` works: every service comes up and the quickstart completes on each site."""

from __future__ import annotations

import os
import subprocess
import sys

from mantik_jupyter.processes import free_port


def test_demo_check_under_a_hub_base_url(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MANTIK_JUPYTER_HOME", "MLFLOW_TRACKING_URI")}
    proc = subprocess.run(
        [sys.executable, "-m", "mantik_jupyter.demo", "--check", "--dir", str(tmp_path),
         "--base-url", "/user/alice/", "--port", str(free_port()),
         "--mlflow-port", str(free_port())],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "/user/alice/lab/tree/quickstart.ipynb?token=" in proc.stdout
    checked = [line for line in proc.stdout.splitlines() if line.startswith("check: ")]
    assert "check: local: COMPLETED" in proc.stdout
    assert all(": COMPLETED" in line for line in checked), checked
