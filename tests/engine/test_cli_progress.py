"""The CLI shows long work on stderr: a progress bar on a terminal (a real pseudo-terminal
here), one line per phase in a pipe, nothing extra with ``--json``."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from helpers import make_notebook


def on_terminal(cli, *args: str) -> tuple[str, str]:
    """Run the CLI with stderr on a pseudo-terminal: (stdout, what the terminal got)."""
    main, side = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mantik_jupyter.cli", *args],
                            env={**cli.env, "TERM": "xterm-256color", "COLUMNS": "100"},
                            stdout=subprocess.PIPE, stderr=side)
    os.close(side)
    seen = b""
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the other side closed: the process ended
            break
        if not data:
            break
        seen += data
    out = proc.communicate(timeout=300)[0]
    os.close(main)
    assert proc.returncode == 0, seen.decode(errors="replace")
    return out.decode(), seen.decode(errors="replace")


def test_submit_and_download_show_progress(cli, tmp_path: Path):
    notebook = make_notebook(tmp_path / "project" / "nb.ipynb", None, "print('hi')")
    (tmp_path / "project" / "data.bin").write_bytes(b"x" * (3 << 20))

    out, terminal = on_terminal(cli, "submit", str(notebook))
    run_id = out.strip()
    assert "bundling" in terminal and "submitting" in terminal, terminal
    assert "━" in terminal and "\x1b[" in terminal, terminal  # rich's bar, drawn in place
    assert "3.1 MB" in terminal or "3.2 MB" in terminal, terminal

    piped = cli("submit", str(notebook))
    second = piped.stdout.strip()
    lines = piped.stderr.splitlines()
    assert lines[0].startswith(f"mantik-jupyter: {second} bundling (2 files, 3.1 MB")
    assert lines[1:] == [f"mantik-jupyter: {second} submitting"], lines

    quiet = cli("submit", str(notebook), "--json")
    assert quiet.stderr == "" and '"state": "QUEUED"' in quiet.stdout

    fetched = cli("download", run_id[:8], "--to", str(tmp_path / "got"))
    assert fetched.stderr.splitlines() == [f"mantik-jupyter: {run_id} downloading"]
    assert (tmp_path / "got" / run_id / "data.bin").stat().st_size == 3 << 20
