"""The ``slurm`` backend's own concerns: SSH host keys and logins, ~/.ssh/config and
ProxyJump, a connection dropped mid-submit or between polls, a submitter killed before it
learnt the job id; through the private sshd over the session's real Slurm."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SLURM_SITES, make_notebook, site_jobs, wait_for
from slurm_ssh_fixtures import SSH_SITE, PrivateSshd, ssh_profile

from mantik_jupyter.backends.transports import command
from mantik_jupyter.errors import ConfigError
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.runfilter import RunFilter
from mantik_jupyter.service import RunService
from mantik_jupyter.sites import SiteCatalog
from mantik_jupyter.tracking import Tracker

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}
CLI = (sys.executable, "-m", "mantik_jupyter.cli")


def fingerprint(public_key: Path) -> str:
    """The key's SHA256 fingerprint as ssh-keygen prints it."""
    return subprocess.run(["ssh-keygen", "-lf", str(public_key)], capture_output=True,
                          text=True, check=True).stdout.split()[1]


def jobs_of(run_id: str) -> list[dict]:
    return [j for j in site_jobs(None, SSH_SITE) if j["name"] == f"mantik-{run_id}"]


def wait_until(condition, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def test_host_keys_logins_config_aliases_and_jumps(cli, slurm_sites: PrivateSshd,
                                                   session_home, tmp_path):
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
    catalog.add(ssh_profile(sshd, "ssh-wrong-key", key_file=str(sshd.wrong_key)))
    host = fingerprint(sshd.base / "host_ed25519.pub")

    unknown = cli("sites", "test", "ssh-unknown-host", check=False)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "host key" in unknown.stdout and "unknown" in unknown.stdout, unknown.stdout
    assert host in unknown.stdout and str(empty) in unknown.stdout
    assert empty.read_text() == ""  # never added silently

    refused = cli("sites", "test", "ssh-changed-host", check=False)
    assert refused.returncode == 1 and "CHANGED" in refused.stdout, refused.stdout
    assert host in refused.stdout and fingerprint(sshd.base / "user_ed25519.pub") in \
        refused.stdout

    wrong = cli("sites", "test", "ssh-wrong-key", check=False)
    assert wrong.returncode == 1 and "refused the login" in wrong.stdout, wrong.stdout
    assert str(sshd.wrong_key) in wrong.stdout

    # ~/.ssh/config names the host, port, user, key and known_hosts; ProxyJump goes through
    # the same sshd (its direct-tcpip channel) to itself
    config_home = tmp_path / "laptop"
    (config_home / ".ssh").mkdir(parents=True)
    (config_home / ".ssh" / "config").write_text(
        f"Host cluster\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n"
        f"  IdentityFile {sshd.key}\n  UserKnownHostsFile {sshd.known_hosts}\n"
        "Host jumpy\n  HostName 127.0.0.1\n  ProxyJump cluster\n"
        f"  Port {sshd.port}\n  User root\n  IdentityFile {sshd.key}\n"
        f"  UserKnownHostsFile {sshd.known_hosts}\n")
    catalog.add({"name": "ssh-alias", "kind": "slurm", "transport": "ssh", "host": "cluster"})
    catalog.add({"name": "ssh-jump", "kind": "slurm", "transport": "ssh", "host": "jumpy"})
    laptop = {**cli.env, "HOME": str(config_home)}
    laptop.pop("SSH_AUTH_SOCK", None)
    for name in ("ssh-alias", "ssh-jump"):
        proc = subprocess.run([*CLI, "sites", "test", name], env=laptop,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and f"root@127.0.0.1:{sshd.port} over SSH" in \
            proc.stdout, proc.stdout + proc.stderr

    with pytest.raises(ConfigError, match="control characters"):
        command("ls", "a\nrm -rf ~")
    bad = cli("sites", "add", "ssh-newline", "--kind", "slurm", "--transport", "ssh",
              "--host", "login\nevil", check=False)
    assert bad.returncode != 0 and "host" in bad.stderr and "Traceback" not in bad.stderr


def test_a_connection_dropped_mid_submit_or_between_polls_is_recovered(
        slurm_sites: PrivateSshd, session_home, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    service = RunService(session_home, tracker=Tracker(
        session_home, f"sqlite:///{session_home / 'mlflow.db'}"))
    nb = make_notebook(tmp_path / "drop.ipynb", None,
                       "import time\nfor i in range(8):\n    print(f'tick {i}', flush=True)\n"
                       "    time.sleep(0.5)")
    backend = service.backend(SSH_SITE)
    slurm_sites.fault("drop")  # Slurm takes the job, then the connection dies before the id
    run = service.submit(SubmitRequest(str(nb), site=SSH_SITE))
    assert not (slurm_sites.faults / "sbatch").exists(), "the fault never fired"
    assert run.remote_job_id and len(jobs_of(run.id)) == 1  # found again, not sent twice

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
    assert final.state.value == "COMPLETED", final
    assert b"tick 7" in service.logs(run.id).data
    assert len(jobs_of(run.id)) == 1


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
    assert run.state.value == "SUBMITTING" and not run.remote_job_id
    service.sync()
    adopted = service.get(run.id)
    assert adopted.remote_job_id == job_id.split(";")[0], adopted
    run_json = wait_for(cli, run.id, TERMINAL)
    assert run_json["state"] == "COMPLETED" and "adopted" in cli("logs", run.id).stdout
    assert len(jobs_of(run.id)) == 1
