"""pytest plugin: the ``slurm`` backend's two sites over the session's real Slurm.

- ``slurm-local``: Slurm's commands on this machine (transport ``local``).
- ``slurm-ssh``: the same Slurm through a private sshd (Debian's openssh-server, installed
  here if missing) on a loopback port: its own host key, key-only login with a test key,
  a known_hosts file holding that host key (``private_sshd``).

The sshd's sessions find ``sbatch`` in a folder of their own first: a wrapper that runs the
real one, then does what a test wrote into its fault file (``drop``: kill the SSH
connection the command came through, after Slurm accepted the job; ``hold``: note the job
id in ``held`` and wait until that file is gone, so the submitter can be killed before it
learns the id). Local submitters get it by PATH.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import SLURM_SITES
from slurm_fixtures import unavailable

LOCAL_SITE, SSH_SITE = SLURM_SITES
NEED = "a private sshd (Debian openssh-server)"

SBATCH_WRAPPER = """#!/bin/sh
# test fault hook (tests/slurm_ssh_fixtures.py): the real sbatch, then the fault asked for
out=$(/usr/bin/sbatch "$@") || exit $?
fault=$(cat {faults}/sbatch 2>/dev/null); rm -f {faults}/sbatch
case "$fault" in
  drop)  # kill the SSH connection this command came through: its sshd processes
    pid=$$
    while [ "$pid" -gt 1 ]; do
      pid=$(awk '{{print $4}}' /proc/$pid/stat)
      case "$(cat /proc/$pid/comm)" in
        sshd|sshd-session) [ "$pid" = "$(cat {pidfile})" ] || kill -9 "$pid" ;;
      esac
    done ;;
  hold) echo "$out" > {faults}/held  # until the test has killed the submitter
    while [ -e {faults}/held ]; do sleep 0.2; done ;;
esac
echo "$out"
"""


@dataclass
class PrivateSshd:
    """The running sshd: where it listens and the files a profile names."""

    port: int
    base: Path
    key: Path
    wrong_key: Path
    known_hosts: Path
    pidfile: Path

    @property
    def faults(self) -> Path:
        return self.base / "faults"

    def fault(self, kind: str) -> None:
        """The next sbatch through the wrapper does ``kind`` (drop or hold)."""
        (self.faults / "sbatch").write_text(kind)

    def stop(self) -> None:
        """End the listener this fixture started (by its pid)."""
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(self.pidfile.read_text().strip()), 15)

    def drop_connections(self) -> int:
        """Kill every SSH connection's processes (the listener stays); how many."""
        listener = self.pidfile.read_text().strip()
        killed = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or entry == listener:
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = stat[stat.rindex(")") + 2:].split()[1]
            if comm in ("sshd", "sshd-session") and ppid == listener:
                try:
                    os.kill(int(entry), 9)
                    killed += 1
                except ProcessLookupError:
                    pass
        return killed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _install_sshd(log: Path) -> None:
    """Debian's openssh-server, its postinst kept from starting the system's sshd."""
    policy = Path("/usr/sbin/policy-rc.d")
    made = not policy.exists()
    if made:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
               "openssh-server", "openssh-client"]
    try:
        with open(log, "ab") as out:
            if subprocess.run(install, stdout=out, stderr=out, env=env).returncode != 0:
                subprocess.run(["apt-get", "update", "-q"], stdout=out, stderr=out, env=env)
                subprocess.run(install, stdout=out, stderr=out, env=env, check=True)
    except subprocess.CalledProcessError:
        unavailable(f"apt-get install openssh-server failed (see {log})", need=NEED)
    finally:
        if made:
            policy.unlink()


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True)


def start_private_sshd(base: Path, slurm_conf: str) -> PrivateSshd:
    """Keys, config and a running sshd in ``base`` (also the benchmarks' way to one)."""
    if not Path("/usr/sbin/sshd").exists() or not shutil.which("ssh-keygen"):
        _install_sshd(base / "apt.log")
    for name in ("host_ed25519", "user_ed25519", "wrong_ed25519"):
        _keygen(base / name, f"mantik-test-{name}")
    (base / "authorized").mkdir()
    shutil.copy(base / "user_ed25519.pub", base / "authorized" / "root")
    (base / "bin").mkdir()
    (base / "faults").mkdir()
    wrapper = base / "bin" / "sbatch"
    pidfile = base / "sshd.pid"
    wrapper.write_text(SBATCH_WRAPPER.format(faults=base / "faults", pidfile=pidfile))
    wrapper.chmod(0o755)
    port = _free_port()
    config = base / "sshd_config"
    config.write_text(f"""# a private sshd for the slurm backend's tests: loopback, key-only
Port {port}
ListenAddress 127.0.0.1
HostKey {base / 'host_ed25519'}
PidFile {pidfile}
AuthorizedKeysFile {base / 'authorized'}/%u
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
MaxSessions 100
MaxStartups 100:30:200
Subsystem sftp internal-sftp
SetEnv SLURM_CONF={slurm_conf} PATH={base / 'bin'}:/usr/bin:/bin:/usr/sbin:/sbin
""")
    known_hosts = base / "known_hosts"
    host_key = (base / "host_ed25519.pub").read_text().split()
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege-separation folder
    started = subprocess.run(["/usr/sbin/sshd", "-f", str(config), "-E", str(base / "sshd.log")],
                             capture_output=True, text=True)
    if started.returncode != 0:
        unavailable(f"sshd did not start: {started.stderr.strip()}", need=NEED)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            if pidfile.exists():
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            unavailable(f"sshd never listened on 127.0.0.1:{port}", need=NEED)
        time.sleep(0.1)
    return PrivateSshd(port, base, base / "user_ed25519", base / "wrong_ed25519", known_hosts,
                       pidfile)


@pytest.fixture(scope="session")
def private_sshd(slurm: str, tmp_path_factory: pytest.TempPathFactory,
                 ) -> Iterator[PrivateSshd]:
    """A private sshd on a loopback port in front of the session's Slurm (as root, the
    account the session's jobs run under: they write the session's MLflow store)."""
    if os.geteuid() != 0:
        unavailable("needs root to install and start a private sshd", need=NEED)
    sshd = start_private_sshd(tmp_path_factory.mktemp("sshd"), slurm)
    yield sshd
    sshd.stop()


def ssh_profile(sshd: PrivateSshd, name: str, **overrides: object) -> dict:
    """A ``slurm`` profile reaching the private sshd (``overrides`` replace keys)."""
    return {"name": name, "kind": "slurm", "title": "Slurm over SSH (private sshd)",
            "transport": "ssh", "host": "127.0.0.1", "port": sshd.port, "user": "root",
            "key_file": str(sshd.key), "known_hosts": str(sshd.known_hosts),
            "environment": {"Python": sys.prefix}, "queues": ["batch", "devel", "booster"],
            **overrides}


@pytest.fixture(scope="session")
def slurm_sites(private_sshd: PrivateSshd, session_home: Path, slurm: str, cli) -> PrivateSshd:
    """The ``slurm-local`` and ``slurm-ssh`` profiles in the session's home."""
    from mantik_jupyter.sites import SiteCatalog

    # CLI processes find the session's Slurm as a login node's users find theirs (the CLI's
    # environment may have been taken before the Slurm fixture set SLURM_CONF)
    cli.env["SLURM_CONF"] = slurm

    catalog = SiteCatalog(session_home)
    catalog.add({"name": LOCAL_SITE, "kind": "slurm", "title": "Slurm on this machine",
                 "transport": "local", "work_root": str(session_home / "slurm-local"),
                 "environment": {"Python": sys.prefix},
                 "queues": ["batch", "devel", "booster"]})
    catalog.add(ssh_profile(private_sshd, SSH_SITE,
                            work_root=str(session_home / "slurm-ssh")))
    return private_sshd
