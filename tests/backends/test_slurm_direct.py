"""The ``slurm`` backend's own concerns: SSH host keys and logins, ~/.ssh/config and
ProxyJump, a connection dropped mid-submit or between polls, a submitter killed before it
learnt the job id; through the private sshd over the session's real Slurm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SLURM_SITES, make_notebook, site_jobs, wait_until
from slurm_ssh_fixtures import SSH_SITE, PrivateSshd, ssh_profile

from mantik_jupyter.backends.slurm_jobs import parse_query, query_command
from mantik_jupyter.backends.transports import command
from mantik_jupyter.errors import BackendError, ConfigError
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.runfilter import RunFilter
from mantik_jupyter.service import RunService
from mantik_jupyter.sites import SiteCatalog
from mantik_jupyter.tracking import Tracker

CLI = (sys.executable, "-m", "mantik_jupyter.cli")


def fingerprint(public_key: Path) -> str:
    """The key's SHA256 fingerprint as ssh-keygen prints it."""
    return subprocess.run(["ssh-keygen", "-lf", str(public_key)], capture_output=True,
                          text=True, check=True).stdout.split()[1]


def jobs_of(run_id: str) -> list[dict]:
    return [j for j in site_jobs(None, SSH_SITE) if j["name"] == f"mantik-{run_id}"]


def test_host_keys_logins_config_aliases_and_jumps(cli, slurm_sites: PrivateSshd,
                                                   session_home, tmp_path, monkeypatch):
    sshd = slurm_sites
    ok = cli("sites", "test", SSH_SITE).stdout
    assert "ok: slurm-wlm" in ok and f"root@127.0.0.1:{sshd.port} over SSH" in ok, ok

    catalog = SiteCatalog(session_home)
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    changed = tmp_path / "known_hosts_changed"
    other = (sshd.base / "user_ed25519.pub").read_text().split()  # some other ed25519 key
    changed.write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    catalog.add(ssh_profile(sshd, "ssh-unknown-host", known_hosts=str(empty)))
    catalog.add(ssh_profile(sshd, "ssh-changed-host", known_hosts=str(changed)))
    cli("sites", "add", "ssh-wrong-key", "--kind", "slurm", "--transport", "ssh", "--host",
        "127.0.0.1", "--port", str(sshd.port), "--user", "root", "--key-file",
        str(sshd.wrong_key), "--known-hosts", str(sshd.known_hosts))  # flags from the schema
    host = fingerprint(sshd.base / "host_ed25519.pub")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # only the profile's key is offered
    service = RunService(session_home)

    unknown = service.check_site("ssh-unknown-host")
    assert not unknown["ok"] and "host key" in unknown["message"], unknown
    assert "unknown" in unknown["message"] and host in unknown["message"]
    assert str(empty) in unknown["message"] and empty.read_text() == ""  # never added

    refused = service.check_site("ssh-changed-host")
    assert not refused["ok"] and "CHANGED" in refused["message"], refused
    assert host in refused["message"]
    assert fingerprint(sshd.base / "user_ed25519.pub") in refused["message"]

    wrong = service.check_site("ssh-wrong-key")
    assert not wrong["ok"] and "refused the login" in wrong["message"], wrong
    assert str(sshd.wrong_key) in wrong["message"]

    # ~/.ssh/config names the host, port, user, key and known_hosts; ProxyJump goes through
    # the same sshd (its direct-tcpip channel) to itself
    laptop = tmp_path / "laptop"
    (laptop / ".ssh").mkdir(parents=True)
    entry = (f"  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n"
             f"  IdentityFile {sshd.key}\n  UserKnownHostsFile {sshd.known_hosts}\n")
    (laptop / ".ssh" / "config").write_text(
        f"Host cluster\n{entry}Host jumpy\n  ProxyJump cluster\n{entry}")
    catalog.add({"name": "ssh-alias", "kind": "slurm", "transport": "ssh", "host": "cluster"})
    catalog.add({"name": "ssh-jump", "kind": "slurm", "transport": "ssh", "host": "jumpy"})
    monkeypatch.setenv("HOME", str(laptop))
    for name in ("ssh-alias", "ssh-jump"):
        checked = RunService(session_home).check_site(name)
        assert checked["ok"] and f"root@127.0.0.1:{sshd.port} over SSH" in \
            checked["message"], checked

    with pytest.raises(ConfigError, match="control character"):
        command("ls", "a\nrm -rf ~")
    with pytest.raises(ConfigError, match="host"):
        catalog.add({"name": "ssh-newline", "kind": "slurm", "transport": "ssh",
                     "host": "login\nevil"})


def test_a_connection_dropped_mid_submit_or_between_polls_is_recovered(
        slurm_sites: PrivateSshd, session_home, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    service = RunService(session_home, tracker=Tracker(
        session_home, f"sqlite:///{session_home / 'mlflow.db'}"))
    nb = make_notebook(tmp_path / "drop.ipynb", None,
                       "import time\nfor i in range(8):\n    print(f'tick {i}', flush=True)\n"
                       "    time.sleep(0.5)")
    backend = service.backend(SSH_SITE)
    runs_dir = Path(backend.workspace("x")).parent
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    refused = {"Environment": {"PreRunCommandOnLoginNode": "echo no quota left; exit 4"}}
    with pytest.raises(BackendError, match="PreRunCommandOnLoginNode failed with exit code "
                                           "4: no quota left"):
        service.submit(SubmitRequest(str(nb), site=SSH_SITE, config=refused))
    assert set(runs_dir.iterdir()) == before  # no run directory left, and no job was sent

    slurm_sites.fault("drop")  # Slurm takes the job, then the connection dies before the id
    login = {"Environment": {"PreRunCommandOnLoginNode": "echo on the login node in $PWD"}}
    run = service.submit(SubmitRequest(str(nb), site=SSH_SITE, config=login))
    assert not (slurm_sites.faults / "sbatch").exists(), "the fault never fired"
    assert run.remote_job_id and len(jobs_of(run.id)) == 1  # found again, not sent twice
    assert f"on the login node in {run.work_dir}" in service.logs(run.id).data.decode()

    commands: list[str] = []
    sent = backend.transport.run

    def counted(line, *args, **kwargs):
        commands.append(line)
        return sent(line, *args, **kwargs)

    monkeypatch.setattr(backend.transport, "run", counted)
    wait_until(lambda: b"tick 1" in service.logs(run.id).data, "the job's log")
    assert slurm_sites.drop_connections() >= 1  # the site's one connection, killed
    commands.clear()
    service.sync([service.get(run.id)])  # the poll reconnects and asks once
    assert len([c for c in commands if "squeue" in c]) == 1, commands
    final = service.wait(run.id, interval=0.5, timeout=240)
    assert final.state == "COMPLETED", final
    assert b"tick 7" in service.logs(run.id).data
    assert len(jobs_of(run.id)) == 1

    # a cluster without any accounting: the same query answers through squeue alone
    no_accounting = tmp_path / "no-accounting"
    no_accounting.mkdir()
    (no_accounting / "sacct").write_text(
        "#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n")
    (no_accounting / "sacct").chmod(0o755)
    out = subprocess.run(["sh", "-c", query_command([final.remote_job_id])], text=True,
                         capture_output=True, check=True,
                         env={**os.environ, "PATH": f"{no_accounting}:{os.environ['PATH']}"})
    job = parse_query(out.stdout)[final.remote_job_id]
    assert job.status.state == "COMPLETED" and job.exit_code is None, job


@pytest.mark.parametrize("site", SLURM_SITES)
def test_a_submitter_killed_after_sbatch_leaves_one_adopted_job(
        cli, slurm_sites: PrivateSshd, session_home, tmp_path, monkeypatch, site):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nb = make_notebook(tmp_path / f"adopt-{site}.ipynb", None, "print('adopted', flush=True)")
    slurm_sites.fault("hold")  # sbatch has answered Slurm; its output is held back
    env = {**cli.env, "PATH": f"{slurm_sites.base / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    submitter = subprocess.Popen([*CLI, "submit", str(nb), "--site", site], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    held = slurm_sites.faults / "held"
    try:
        job_id = wait_until(lambda: held.exists() and held.read_text().strip(), "sbatch")
    finally:
        submitter.kill()
        submitter.communicate()
        held.unlink(missing_ok=True)  # the wrapper ends
    service = RunService(home=session_home, submit_grace=0)
    run = service.list(RunFilter(notebook=str(nb)))[0]
    assert run.state == "SUBMITTING" and not run.remote_job_id
    service.sync()
    adopted = service.get(run.id)
    assert adopted.remote_job_id == job_id.split(";")[0], adopted
    final = service.wait(run.id, interval=0.5, timeout=240)
    assert final.state == "COMPLETED" and b"adopted" in service.logs(run.id).data, final
    assert len(jobs_of(run.id)) == 1


@pytest.mark.timeout(900)
def test_a_sweep_is_one_job_array_and_cancelled_as_one(cli, slurm_sites, tmp_path):
    """Three points at most two at once go as one ``sbatch --array=0-2%2``; each point is
    found by its task's id (the pending rest too) and completes; a second sweep's cancel
    ends all its tasks at once."""
    nb = make_notebook(tmp_path / "sweep.ipynb", "pause: float = 0.1",
                       "import time\ntime.sleep(pause)\nprint('slept', pause)")
    sweep = json.loads(cli("submit", str(nb), "--site", "slurm-local", "--sweep",
                           "pause=0.1,0.2,0.3", "--max-concurrent", "2", "--wait", "--json",
                           timeout=600).stdout)
    assert sweep["state"] == "COMPLETED", sweep
    assert sweep["native_state"] == "3 points: 3 COMPLETED"
    points = [cli.json("show", row["run_id"])
              for row in cli.json("results", sweep["id"])["rows"]]
    arrays = {p["remote_job_id"].partition("_")[0] for p in points}
    assert len(arrays) == 1, points  # one sbatch for the three points
    assert sorted(p["remote_job_id"].partition("_")[2] for p in points) == ["0", "1", "2"]
    assert "#SBATCH --array=0-2%2" in points[0]["script"]

    waiting = make_notebook(tmp_path / "long.ipynb", "pause: float = 600",
                            "import time\ntime.sleep(pause)")
    long = json.loads(cli("submit", str(waiting), "--site", "slurm-local", "--sweep",
                          "pause=600,601,602", "--max-concurrent", "1", "--json").stdout)
    assert cli("cancel", long["id"]).stdout.split() == [long["id"], "CANCELLED"]
    array = cli.json("show", cli.json("results", long["id"])["rows"][0]["run_id"]
                     )["remote_job_id"].partition("_")[0]
    alive = subprocess.run(["squeue", "-h", "-j", array, "-t", "PD,CF,R,CG,S"],
                           capture_output=True, text=True).stdout.strip()
    assert alive == "", alive
