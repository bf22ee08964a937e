"""Planted secrets (a UNICORE password, a FirecREST client secret, an MLflow token) reach
what needs them and appear in no file written during the test and in no CLI output."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from helpers import SITES, make_notebook

from mantik_jupyter.credentials import SECRETS_FILE

PASSWORD = "planted-PASSWORD-7f3a9c"  # noqa: S105 - planted to be searched for
CLIENT_SECRET = "planted-CLIENT-SECRET-51be0d"  # noqa: S105
MLFLOW_TOKEN = "planted-MLFLOW-TOKEN-c0ffee"  # noqa: S105
PLANTED = (PASSWORD, CLIENT_SECRET, MLFLOW_TOKEN)


def test_planted_secrets_appear_nowhere(cli, slurm, session_home, tmp_path):
    from mantik_jupyter.sim import Simulator

    sim = Simulator(tmp_path / "site", port=0, executor="slurm", slurm_conf=slurm,
                    password=PASSWORD, client_secret=CLIENT_SECRET).start()
    home = tmp_path / "home"
    cli = type(cli)(home)  # the CLI runner, with its own home for this test
    cli.env["MLFLOW_TRACKING_URI"] = f"sqlite:///{session_home / 'mlflow.db'}"
    cli.env["MLFLOW_TRACKING_TOKEN"] = MLFLOW_TOKEN
    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = subprocess.run([sys.executable, "-m", "mantik_jupyter.cli", *args],
                              env=cli.env, input=stdin, capture_output=True, text=True,
                              timeout=300)
        outputs.append(proc.stdout + proc.stderr)
        assert not check or proc.returncode == 0, proc.stderr
        return proc.stdout

    try:
        run("sites", "add", "planted-unicore", "--kind", "unicore", "--url", sim.unicore_url,
            "--username", "demouser", "--python", sys.prefix, "--secret-stdin",
            stdin=PASSWORD + "\n")
        run("sites", "add", "planted-firecrest", "--kind", "firecrest", "--url",
            sim.firecrest_url, "--token-url", sim.token_url, "--machine", "daint-sim",
            "--client-id", "demo-client", "--python", sys.prefix, "--secret-stdin",
            stdin=CLIENT_SECRET + "\n")
        run("sites", "add", "planted-wrong", "--kind", "unicore", "--url", sim.unicore_url,
            "--username", "demouser", "--secret-stdin", stdin="wrong-" + PASSWORD + "\n")
        run("sites", "list")
        for name in ("planted-unicore", "planted-firecrest"):
            assert "ok" in run("sites", "test", name)
        failed = run("sites", "test", "planted-wrong", check=False)
        assert "FAILED" in failed and "refused the credentials from the mantik secrets file" \
            in failed

        digest = hashlib.sha256(MLFLOW_TOKEN.encode()).hexdigest()
        nb = make_notebook(tmp_path / "nb" / "check.ipynb", 'token_sha: str = ""',
                           "import hashlib, os\n"
                           "token = os.environ['MLFLOW_TRACKING_TOKEN']\n"
                           "assert hashlib.sha256(token.encode()).hexdigest() == token_sha\n"
                           "print('the tracking token arrived')")
        for site in ("planted-unicore", "planted-firecrest"):
            submitted = json.loads(run("submit", str(nb), "--site", site, "-p",
                                       f"token_sha={digest}", "--wait", "--json"))
            run_id = submitted["id"]
            assert json.loads(run("show", run_id, "--json"))["state"] == "COMPLETED"
            assert "the tracking token arrived" in run("logs", run_id)
            run("files", run_id)
        run("runs", "--json")
    finally:
        sim.stop()

    written = [p for p in (*tmp_path.rglob("*"), *session_home.glob("mlflow.db*"),
                           *(session_home / "mlartifacts").rglob("*"))
               if p.is_file() and p != home / SECRETS_FILE]
    assert any(p.name == "mantik-job.log" for p in written)
    assert any(p.parent.name == "jobs" and p.suffix == ".json" for p in written)  # descriptions
    for path in written:
        data = path.read_bytes()
        for secret in PLANTED:
            assert secret.encode() not in data, f"a planted secret is in {path}"
    for text in outputs:
        for secret in PLANTED:
            assert secret not in text, "a planted secret is in CLI output"
    for site in SITES:  # the shared presets never learnt these secrets either
        assert site not in (home / SECRETS_FILE).read_text()
