"""End to end on the local site, through the CLI as separate processes: real papermill,
real kernels, real MLflow, real detached jobs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from helpers import follow_while_running, make_notebook, wait_for
from mlflow.tracking import MlflowClient

SLOW_PRINT = "import time\nfor i in range({n}):\n    print(f'line {{i}}', flush=True)\n" \
             "    time.sleep({pause})"


def job_processes(run_id: str) -> list[int]:
    """Processes whose environment carries the run id (the wrapper, papermill, the kernel)."""
    found = []
    marker = f"MANTIK_RUN_ID={run_id}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found.append(int(entry))
    return found


def test_parameterised_notebook_completes_and_is_tracked(cli, session_home, tmp_path):
    nb = make_notebook(
        tmp_path / "train.ipynb",
        'lr: float = 0.1  # learning rate\nepochs: int = 2\ntag: str = "x"',
        "import mlflow\nwith mlflow.start_run():\n"
        "    mlflow.log_metric('score', lr * epochs)\nprint('tag is', repr(tag))",
    )
    run = cli.json("submit", str(nb), "-p", "lr=0.5", "-p", "epochs=4", "-p", "tag=a b",
                   "--wait")
    assert run["state"] == "COMPLETED", run
    assert run["parameters"] == {"lr": 0.5, "epochs": 4, "tag": "a b"}
    assert run["exit_code"] == 0 and run["started_at"] and run["ended_at"]

    client = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}")
    tracked = client.get_run(run["mlflow_run_id"])
    assert tracked.info.status == "FINISHED"
    assert tracked.data.params == {"lr": "0.5", "epochs": "4", "tag": "a b"}
    assert json.loads(tracked.data.tags["mantik.parameter_types"]) == {
        "lr": "float", "epochs": "int", "tag": "str"}
    assert tracked.data.tags["mantik.site"] == "local"
    assert tracked.data.tags["mantik.bundle_hash"] == run["bundle_hash"]
    assert tracked.data.metrics["score"] == 2.0
    artifacts = {a.path for a in client.list_artifacts(run["mlflow_run_id"], "mantik")}
    assert artifacts == {"mantik/train.ipynb", "mantik/mantik-job.log"}

    out = tmp_path / "out"
    cli("download", run["id"], "mantik-output/train.ipynb", "--to", str(out))
    executed = json.loads((out / "train.ipynb").read_text())
    assert "tag is 'a b'" in json.dumps(executed)
    names = {e["path"] for e in cli.json("files", run["id"])}
    assert {"train.ipynb", "MLproject", "mantik-run.json", "mantik-output"} <= names


def test_failing_notebook_ends_failed_with_the_exception(cli, session_home, tmp_path):
    nb = make_notebook(tmp_path / "boom.ipynb", "x: int = 1",
                       "print('before the error', flush=True)",
                       "raise ValueError(f'boom {x * 42}')", "print('never')")
    proc = cli("submit", str(nb), "--wait", "--json", check=False)
    assert proc.returncode == 1  # --wait on a run that failed exits non-zero
    run = json.loads(proc.stdout)
    assert run["state"] == "FAILED"
    assert "ValueError: boom 42" in run["reason"]
    assert run["exit_code"] != 0
    out = tmp_path / "out"
    cli("download", run["id"], "mantik-output/boom.ipynb", "--to", str(out))
    partial = json.loads((out / "boom.ipynb").read_text())
    assert "before the error" in json.dumps(partial)  # the partial output is kept
    client = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}")
    assert client.get_run(run["mlflow_run_id"]).info.status == "FAILED"


def test_logs_follow_while_running_and_offsets_are_exact(cli, tmp_path):
    nb = make_notebook(tmp_path / "slow.ipynb", None, SLOW_PRINT.format(n=12, pause=0.5))
    run_id = cli("submit", str(nb)).stdout.strip()
    rest = follow_while_running(cli, run_id, b"line 1", timeout=120)
    assert b"line 11" in rest
    assert cli.json("show", run_id)["state"] == "COMPLETED"

    whole = cli("logs", run_id).stdout.encode()
    for offset in (0, 1, 17, len(whole) // 2, len(whole) - 1, len(whole)):
        assert cli("logs", run_id, "--offset", str(offset)).stdout.encode() == whole[offset:]
    assert cli("logs", run_id, "--offset", "5", "--limit", "10").stdout.encode() == whole[5:15]


def test_cancel_ends_the_job_and_every_process_of_it(cli, tmp_path):
    nb = make_notebook(tmp_path / "sleepy.ipynb", None, SLOW_PRINT.format(n=600, pause=0.5))
    run_id = cli("submit", str(nb)).stdout.strip()
    wait_for(cli, run_id, {"RUNNING"})
    deadline = time.monotonic() + 300
    while b"line 0" not in cli("logs", run_id).stdout.encode():  # the kernel is up
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert len(job_processes(run_id)) >= 3  # wrapper, bash, papermill, kernel
    assert cli("cancel", run_id).stdout.split() == [run_id, "CANCELLED"]
    run = cli.json("show", run_id)
    assert run["state"] == "CANCELLED" and run["ended_at"]
    assert job_processes(run_id) == []
    second = cli("cancel", run_id, check=False)
    assert second.returncode != 0 and "already ended" in second.stderr


def test_job_outlives_the_submitting_process(cli, tmp_path):
    nb = make_notebook(tmp_path / "short.ipynb", None, SLOW_PRINT.format(n=4, pause=0.5))
    submit = cli.popen("submit", str(nb))
    out, _ = submit.communicate(timeout=120)
    assert submit.returncode == 0  # the submitter is gone...
    run_id = out.decode().strip()
    assert job_processes(run_id)  # ...and the job still runs
    run = wait_for(cli, run_id, {"COMPLETED", "FAILED"})
    assert run["state"] == "COMPLETED"


def test_runtime_limit_ends_in_timeout(cli, tmp_path):
    nb = make_notebook(tmp_path / "long.ipynb", None, SLOW_PRINT.format(n=600, pause=0.5))
    config = tmp_path / "run.yaml"
    config.write_text("Resources:\n  Runtime: 8s\n")
    run = cli.json("submit", str(nb), "--config", str(config), "--wait", check=False)
    assert run["state"] == "TIMEOUT"
    assert job_processes(run["id"]) == []


def test_rerun_and_delete(cli, tmp_path):
    nb = make_notebook(tmp_path / "p.ipynb", "n: int = 1", "print('n =', n)")
    first = cli.json("submit", str(nb), "-p", "n=2", "--name", "first", "--wait")
    second = cli.json("rerun", first["id"], "-p", "n=3", "--wait")
    assert second["parent_id"] == first["id"]
    assert second["parameters"] == {"n": 3}
    assert second["state"] == "COMPLETED"
    assert "n = 3" in cli("logs", second["id"]).stdout
    cli("delete", second["id"], "--remote")
    assert second["id"] not in {r["id"] for r in cli.json("runs")}
    assert not Path(second["work_dir"]).exists()


@pytest.mark.parametrize("case", [
    "missing notebook", "not a notebook", "unknown parameter", "wrong parameter type",
    "malformed YAML", "unknown config key", "bad runtime", "bad memory", "unknown site",
])
def test_bad_input_is_one_clear_line_and_leaves_no_run(cli, session_home, tmp_path, case):
    nb = make_notebook(tmp_path / "ok.ipynb", "epochs: int = 1", "print(epochs)")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    config = tmp_path / "run.yaml"
    args, config_text, expected = {
        "missing notebook": ([str(tmp_path / "nope.ipynb")], None, "does not exist"),
        "not a notebook": ([str(text_file)], None, "not a notebook"),
        "unknown parameter": ([str(nb), "-p", "epoch=3"], None, "unknown parameter 'epoch'"),
        "wrong parameter type": ([str(nb), "-p", "epochs=many"], None, "expects int"),
        "malformed YAML": ([str(nb)], "Resources: [unclosed\n", "malformed YAML at line"),
        "unknown config key": ([str(nb)], "Resource: {}\n", "unknown key 'Resource'"),
        "bad runtime": ([str(nb)], "Resources: {Runtime: 1x}\n", "Resources.Runtime"),
        "bad memory": ([str(nb)], "Resources: {MemoryPerNode: 4Q}\n", "MemoryPerNode"),
        "unknown site": ([str(nb), "--site", "juwels-typo"], None, "unknown site 'juwels-typo'"),
    }[case]
    if config_text is not None:
        config.write_text(config_text)
        args += ["--config", str(config)]
    before = len(cli.json("runs"))
    proc = cli("submit", *args, check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(cli.json("runs")) == before
    assert not any((session_home / "staging").iterdir())


def test_cancel_right_after_submit_is_cancelled_not_lost(cli, tmp_path):
    nb = make_notebook(tmp_path / "quick.ipynb", None, SLOW_PRINT.format(n=600, pause=0.5))
    run_id = cli("submit", str(nb)).stdout.strip()
    proc = cli("cancel", run_id, check=False)
    run = cli.json("show", run_id)
    assert run["state"] == "CANCELLED", (proc.stderr, run)
    assert job_processes(run_id) == []


def test_a_job_never_gets_the_jupyter_server_token(cli, tmp_path):
    # what the server extension tells its kernels, and JupyterHub's token of the server
    planted = {"MANTIK_JUPYTER_TOKEN": "planted-server-token",
               "MANTIK_JUPYTER_URL": "http://127.0.0.1:1/",
               "JUPYTERHUB_API_TOKEN": "planted-server-token",
               "JPY_API_TOKEN": "planted-server-token"}
    nb = make_notebook(tmp_path / "env.ipynb", None,
                       f"import os\nprint('server env:', sorted(set(os.environ) & {set(planted)}))")
    cli.env.update(planted)
    try:
        run = cli.json("submit", str(nb), "--wait")
    finally:
        for name in planted:
            del cli.env[name]
    log = cli("logs", run["id"]).stdout
    assert "server env: []" in log
    assert "planted-server-token" not in (Path(run["work_dir"]) / "mantik-job.log").read_text()


def test_a_run_at_a_later_time_waits_queued_and_starts_no_earlier(cli, tmp_path):
    from datetime import datetime, timedelta, timezone

    nb = make_notebook(tmp_path / "later.ipynb", None, "print('later')")
    at = (datetime.now(timezone.utc) + timedelta(seconds=10)).replace(microsecond=0)
    run = cli.json("submit", str(nb), "--at", at.isoformat())
    assert run["state"] == "QUEUED" and run["reason"] == f"starts at {at.isoformat()}", run
    done = wait_for(cli, run["id"], {"COMPLETED", "FAILED"})
    assert done["state"] == "COMPLETED", done
    assert datetime.fromisoformat(done["started_at"]) >= at
