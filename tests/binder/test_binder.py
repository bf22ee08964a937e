"""``binder/`` as repo2docker reads it (its dry run, no docker) and as its image runs, done
here the way repo2docker does it: a non-root user, a fresh environment, ``requirements.txt``,
``postBuild``, then ``start`` with ``jupyter lab``; the demo is then used through that server
alone (REST API, a submission to the simulator sites, the MLflow UI behind its proxy) and
stopping the server must stop every service.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from slurm_fixtures import unavailable

from mantik_jupyter.demo import check
from mantik_jupyter.processes import free_port

REPO = Path(__file__).resolve().parent.parent.parent
BINDER = REPO / "binder"
USER = "mantik-binder"  # the notebook user when the tests run as root (jovyan on binder)
BASE_URL = "/user/binder/"
# what a browser on a hub sends through its proxy: the hub's public name
HUB = {"Host": "hub.binder.test", "Origin": "https://hub.binder.test"}
SIM_SITES = {"sim-unicore", "sim-firecrest"}
# generous: a build on this machine shares two cores with other work
BUILD_TIMEOUT = 1200  # per step
READY_TIMEOUT = 300
# the first test that uses the image also waits for its build (pytest-timeout counts setup)
pytestmark = pytest.mark.timeout(3 * BUILD_TIMEOUT + 2 * READY_TIMEOUT)


def test_repo2docker_dry_run_builds_from_the_binder_files():
    """repo2docker's generated Dockerfile uses every file of binder/ (and not the root's)."""
    proc = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", "--debug", "--user-id", "1000",
         "--user-name", "jovyan", str(REPO)],
        capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Building conda environment for python=3.11" in out  # runtime.txt
    assert "COPY --chown=1000:1000 src/binder/requirements.txt" in out
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in out
    assert "RUN ./binder/postBuild" in out
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in out
    # with binder/ present the root's pyproject.toml is not installed by repo2docker
    assert "pip install --no-cache-dir ." not in out.replace("-r ", "")


class Account:
    """Who runs the image's steps: a non-root user created for it when the tests are root,
    else the current user; its caches outlive one run (as a hub's build cache would)."""

    def __init__(self) -> None:
        if os.geteuid() == 0:
            if subprocess.run(["id", "-u", USER], capture_output=True).returncode != 0:
                made = subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash",
                                       USER], capture_output=True, text=True)
                if made.returncode != 0:
                    unavailable(f"useradd {USER} failed: {made.stderr}", need="a non-root user")
            entry = pwd.getpwnam(USER)
        else:
            entry = pwd.getpwuid(os.geteuid())
        self.name, self.uid, self.gid = entry.pw_name, entry.pw_uid, entry.pw_gid
        self.home = Path(entry.pw_dir)
        self.root = os.geteuid() == 0

    def own(self, path: Path) -> None:
        """Hand ``path`` (recursively) to this user."""
        if self.root:
            subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(path)], check=True)

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path
              ) -> subprocess.Popen:
        """Start ``argv`` as this user, in its own session, output appended to ``log``."""
        with open(log, "ab") as out:
            return subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    **({"user": self.uid, "group": self.gid, "extra_groups": []}
                                       if self.root else {}))

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        """Run a build step as this user; fail with its log's tail."""
        started = time.monotonic()
        proc = self.spawn(argv, env, cwd, log)
        try:
            code = proc.wait(BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        tail = log.read_text(errors="replace")[-6000:]
        assert code == 0, f"{' '.join(argv)} failed ({code}):\n{tail}"
        print(f"binder build: {' '.join(argv[-3:])}: {time.monotonic() - started:.0f} s")


def _python() -> str:
    """The Python of binder/runtime.txt, from the system (the user cannot reach a root-only
    install such as pyenv's under /root)."""
    version = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    found = shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin")
    if found is None:
        unavailable(f"python{version} (binder/runtime.txt) is not installed", need="its Python")
    return found


def _copy_repository(target: Path) -> None:
    """The files a clean clone holds (tracked and new, not ignored), as they are now."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _seed_yarn_mirror(account: Account) -> Path:
    """Yarn's global mirror for the user: its own, filled with the npm packages this machine's
    yarn already fetched (the same tarballs; yarn fetches anything missing)."""
    mirror = account.home / ".cache" / "mantik-binder-yarn"
    ours = Path.home() / ".yarn" / "berry" / "cache"
    if account.root and ours.is_dir():
        (mirror / "cache").mkdir(parents=True, exist_ok=True)
        for package in ours.iterdir():
            if not (mirror / "cache" / package.name).exists():
                shutil.copy2(package, mirror / "cache" / package.name)
        account.own(mirror.parent)
    return mirror if account.root else Path.home() / ".yarn" / "berry"


class Image:
    """A binder image without docker: the repository in the user's HOME (repo2docker's
    REPO_DIR) and a fresh environment first on PATH (its NB_PYTHON_PREFIX)."""

    def __init__(self, account: Account, folder: Path):
        self.account, self.folder = account, folder
        self.home = folder / "home"
        self.prefix = folder / "env"
        self.logs = folder / "logs"
        self.logs.mkdir()
        self.home.mkdir()
        _copy_repository(self.home)
        account.own(folder)
        # what a container's environment holds, plus this machine's package index settings
        self.env = {
            "HOME": str(self.home), "USER": account.name, "LANG": "C.UTF-8", "SHELL": "/bin/bash",
            "PATH": f"{self.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
            "YARN_GLOBAL_FOLDER": str(_seed_yarn_mirror(account)),
            **{k: v for k, v in os.environ.items() if k.startswith("PIP_") or k == "CI"},
            # no bytecode at install (a cache Python also writes on first import): minutes
            # less on two busy cores, the same programs run
            "PIP_COMPILE": "0",
        }

    def build(self) -> None:
        """repo2docker's steps: the environment, requirements.txt, then postBuild."""
        run = self.account.run
        run([_python(), "-m", "venv", str(self.prefix)], self.env, self.home,
            self.logs / "build.log")
        run([f"{self.prefix}/bin/python", "-m", "pip", "install", "--no-cache-dir", "-r",
             "binder/requirements.txt"], self.env, self.home, self.logs / "build.log")
        run(["./binder/postBuild"], self.env, self.home, self.logs / "build.log")

    def processes(self) -> list[psutil.Process]:
        """Every process this image left: the user's (as root) or any running from it."""
        left = []
        for proc in psutil.process_iter(["uids", "cmdline"]):
            try:
                mine = (proc.info["uids"].real == self.account.uid if self.account.root
                        else any(str(self.folder) in arg for arg in proc.info["cmdline"] or ()))
            except (psutil.Error, TypeError):
                continue
            if mine and proc.pid != os.getpid():
                left.append(proc)
        return left


class Lab:
    """``binder/start jupyter lab ...`` as binder launches it, behind a hub-style base URL."""

    def __init__(self, image: Image):
        self.image = image
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{free_port()}{BASE_URL}"
        port = self.url.split(":")[2].split("/")[0]
        self.log = image.logs / "start.log"
        self.proc = image.account.spawn(
            # loopback only here, but taking a public Host as binder's server on 0.0.0.0 does
            ["./binder/start", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             "--ServerApp.allow_remote_access=True",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--ServerApp.base_url={BASE_URL}", f"--IdentityProvider.token={self.token}"],
            image.env, image.home, self.log)
        self.headers = {"Authorization": f"token {self.token}"}

    def get(self, path: str, headers: dict[str, str] | None = None, **kwargs
            ) -> requests.Response:
        return requests.get(self.url + path, headers={**self.headers, **(headers or {})},
                            timeout=60, **kwargs)

    def wait_for(self, path: str, what: str) -> None:
        """Poll ``path`` until it answers 200; fail with the logs if the server died."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert self.proc.poll() is None, f"the server exited:\n{self.logs()}"
            try:
                if self.get(path).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"{what} not ready:\n{self.logs()}"
            time.sleep(0.5)

    def logs(self) -> str:
        texts = [self.log.read_text(errors="replace")[-4000:]]
        services = self.image.home / ".local/share/jupyter/mantik/demo-logs"
        for log in sorted(services.glob("*.log")) if services.is_dir() else ():
            texts.append(f"--- {log.name}\n" + log.read_text(errors="replace")[-2000:])
        return "\n".join(texts)

    def stop(self) -> int | None:
        """SIGTERM the notebook server (start exec'd it, so it is the process we started)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    account = Account()
    # one run at a time per account: its processes are checked (and cleaned up) by its uid
    with open(account.home / ".mantik-binder-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = Path(tempfile.mkdtemp(prefix="mantik-binder-"))
        image = Image(account, folder)
        started = time.monotonic()
        image.build()
        print(f"binder build: {time.monotonic() - started:.0f} s in all")
        yield image
        for proc in image.processes():  # cleanup only: test_stopping_... checks there are none
            proc.kill()
        started = time.monotonic()
        shutil.rmtree(folder, ignore_errors=True)
        print(f"binder cleanup: {time.monotonic() - started:.0f} s")


@pytest.fixture(scope="module")
def lab(image: Image) -> Iterator[Lab]:
    lab = Lab(image)
    started = time.monotonic()
    lab.wait_for("mantik/api/config", "the mantik API")
    print(f"binder start: the API answered after {time.monotonic() - started:.0f} s")
    yield lab
    lab.stop()


def _page_config(html: str) -> dict:
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      html, re.DOTALL)
    assert found, html[:2000]
    return json.loads(found.group(1))


def test_the_lab_opens_the_quickstart_with_the_extensions(lab: Lab):
    page = requests.get(f"{lab.url}?token={lab.token}", timeout=60)
    assert page.status_code == 200
    assert page.url.split("?")[0] == f"{lab.url}lab/tree/notebooks/quickstart.ipynb"
    extensions = {e["name"]: e for e in _page_config(page.text)["federated_extensions"]}
    assert {"mantik-jupyter", "@jupyterhub/jupyter-server-proxy"} <= extensions.keys()
    entry = extensions["mantik-jupyter"]["load"]
    assert lab.get(f"lab/extensions/mantik-jupyter/{entry}").status_code == 200
    servers = lab.get("server-proxy/servers-info").json()["server_processes"]
    assert [(s["name"], s["launcher_entry"]["title"]) for s in servers] == [("mlflow", "MLflow")]


def test_the_panel_lists_the_simulator_sites_and_they_answer(lab: Lab):
    sites = {s["name"] for s in lab.get("mantik/api/sites").json()["sites"]}
    assert sites >= SIM_SITES
    for site in sorted(SIM_SITES):
        tested = requests.post(f"{lab.url}mantik/api/sites/{site}/test", headers=lab.headers,
                               timeout=120)
        assert tested.status_code == 200 and tested.json()["ok"], tested.text
    config = lab.get("mantik/api/config").json()
    assert config["mlflow_ui_url"] == f"{BASE_URL}mlflow/"


def test_the_quickstart_completes_on_every_demo_site_tracked_in_mlflow(lab: Lab, capsys):
    lab.wait_for("mlflow/health", "MLflow behind the proxy")
    # MLflow read through the notebook server's proxy path, as the browser reaches it
    assert check(f"{lab.url}mantik/api/", lab.token, f"{lab.url}mlflow",
                 notebook="notebooks/quickstart.ipynb"), lab.logs()
    out = capsys.readouterr().out
    for site in SIM_SITES | {"local"}:
        assert f"check: {site}: COMPLETED" in out, out


def test_the_mlflow_ui_is_served_through_the_proxy(lab: Lab):
    lab.wait_for("mlflow/health", "MLflow behind the proxy")
    page = lab.get("mlflow/", headers=HUB)
    assert page.status_code == 200 and "<title>MLflow</title>" in page.text, page.text[:500]
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page.text)
    assert scripts and not any(s.startswith(("/", "http")) for s in scripts), scripts
    for script in scripts:  # relative, so they load under the proxy path
        assert lab.get(f"mlflow/{script}", headers=HUB).status_code == 200
    # the UI's own API calls (ajax-api, relative too; runs are searched with POST) see the
    # demo's runs
    experiments = lab.get("mlflow/ajax-api/2.0/mlflow/experiments/search",
                          params={"max_results": 100}, headers=HUB)
    assert experiments.status_code == 200, experiments.text
    ids = [e["experiment_id"] for e in experiments.json()["experiments"]]
    runs = requests.post(f"{lab.url}mlflow/ajax-api/2.0/mlflow/runs/search",
                         json={"experiment_ids": ids}, headers={**lab.headers, **HUB},
                         timeout=60)
    assert runs.status_code == 200, runs.text
    names = {r["info"]["run_name"] for r in runs.json()["runs"]}
    assert {f"demo-{site}" for site in SIM_SITES} <= names, names


def test_stopping_the_server_stops_every_service(image: Image, lab: Lab):
    assert image.processes(), "nothing runs before the stop: the check below would be empty"
    assert lab.stop() == 0, lab.logs()
    deadline = time.monotonic() + 120
    while (left := image.processes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, [p.cmdline() for p in left if p.is_running()]
    assert "simulator and MLflow stopped" in lab.logs()
