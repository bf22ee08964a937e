"""Concurrent writers of the secrets file: the server's threads and a CLI process at once
must keep every stored secret, and a damaged file is named, never a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mantik_jupyter.credentials import secrets_path
from mantik_jupyter.errors import CredentialsError
from mantik_jupyter.sites import SiteCatalog

THREADS = 8
ROUNDS = 25


def add_sites(catalog: SiteCatalog, names: list[str]) -> None:
    for name in names:
        catalog.add({"name": name, "kind": "unicore", "url": "https://x.example/rest",
                     "username": "u"})


def test_eight_threads_and_a_cli_process_writing_secrets_keep_them_all(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    catalog = SiteCatalog(home)
    names = [f"site-{i}" for i in range(THREADS)]
    add_sites(catalog, [*names, "site-cli"])
    env = {**os.environ, "MANTIK_JUPYTER_HOME": str(home)}
    script = ("import sys\nfrom mantik_jupyter.sites import SiteCatalog\n"
              "from pathlib import Path\ncatalog = SiteCatalog(Path(sys.argv[1]))\n"
              f"for r in range({ROUNDS}):\n"
              "    catalog.set_credentials('site-cli', f'cli-secret-{r}')\n")
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)

    def writer(name: str) -> None:
        try:
            start.wait()
            for r in range(ROUNDS):
                catalog.set_credentials(name, f"{name}-secret-{r}")
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    cli = subprocess.Popen([sys.executable, "-c", script, str(home)], env=env)
    start.wait()
    for thread in threads:
        thread.join()
    assert cli.wait(timeout=300) == 0
    # one more through the real CLI, as a user sets a secret
    subprocess.run([sys.executable, "-m", "mantik_jupyter.cli", "sites", "credentials",
                    "site-cli"], input="from-the-cli\n", text=True, env=env, check=True,
                   timeout=300)

    assert errors == []
    path = secrets_path(home)
    secrets = json.loads(path.read_text())
    assert secrets == {**{n: f"{n}-secret-{ROUNDS - 1}" for n in names},
                       "site-cli": "from-the-cli"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []
    assert all(catalog.has_credentials(n) for n in [*names, "site-cli"])


def test_a_damaged_secrets_file_is_named_not_a_traceback(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    catalog = SiteCatalog(home)
    add_sites(catalog, ["s"])
    path = secrets_path(home)
    path.write_text('{"s": "half')
    path.chmod(0o600)
    with pytest.raises(CredentialsError) as err:
        catalog.set_credentials("s", "new")
    assert err.value.key == "credentials"
    assert str(path) in err.value.message and "damaged" in err.value.message
    assert path.read_text() == '{"s": "half'  # nothing overwritten: the user decides
