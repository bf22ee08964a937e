"""Data for runs end to end: CliMetLab stages a run's ``Data`` where the network is and the
unchanged example notebook reads it offline, on the local site and both simulated gateways
over real Slurm. The data comes from a loopback HTTP server that refuses every request for a
file once it has served it whole (staging's download), so any download from the compute
step fails the run; its access log shows that a second run downloads nothing. Two sites keep
their shared cache read-only for jobs: what is in it and CliMetLab's index of it show that
only staging wrote there, where on the other sites the job registers its reads too."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import SITES, wait_for, write_config
from mlflow.tracking import MlflowClient

pytest.importorskip("climetlab", reason="climetlab is in the test extras: pip install -e .[test]")
from mantik_jupyter.demo_data import temperature  # noqa: E402 - after the skip above

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "climetlab-data.ipynb"
#: sim-firecrest as a site whose compute nodes are offline: Data staged by a job of its own
STEP_SITE = "sim-firecrest-staged"
#: sim-firecrest staging in the job itself, its shared cache read-only for the notebook
READ_ONLY_SITE = "sim-firecrest-read-only"
DATA_SITES = ("local", *SITES, STEP_SITE, READ_ONLY_SITE)
#: the sites whose profile says data_cache_read_only
READ_ONLY = {STEP_SITE, READ_ONLY_SITE}
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}
TRAIN_YEAR, EVAL_YEAR = 2024, 2031


class DataServer(ThreadingHTTPServer):
    """Serves ``files`` by path; each one is refused (403) once it has been sent whole. A
    request under ``/hold/`` is answered (404) only once ``release`` is set: a staging that
    lasts until then."""

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), DataHandler)
        self.files = files
        self.release = threading.Event()
        self.sent: set[str] = set()
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def requests(self, path: str) -> list[tuple[str, str, int]]:
        with self.lock:
            return [entry for entry in self.log if entry[1] == path]


class DataHandler(BaseHTTPRequestHandler):
    server: DataServer

    def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
        self.answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self.answer(body=True)

    def answer(self, body: bool) -> None:
        server, path = self.server, self.path
        with server.lock:
            data = server.files.get(path)
            status = 403 if path in server.sent else 404 if data is None else 200
            server.log.append((self.command, path, status))
        if path.startswith("/hold/"):
            server.release.wait(600)
        if status != 200:
            self.send_error(status)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-netcdf")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)
            self.wfile.flush()
            with server.lock:
                server.sent.add(path)

    def log_message(self, format: str, *args: object) -> None:  # the log list is enough
        pass


@pytest.fixture
def data_server(tmp_path: Path) -> Iterator[DataServer]:
    """The loopback server with one evaluation file per site."""
    nc = tmp_path / "t2m.nc"
    temperature(EVAL_YEAR).to_netcdf(nc)
    server = DataServer({f"/{site}/t2m.nc": nc.read_bytes() for site in DATA_SITES})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def submit(cli, site: str, config: str, url: str) -> str:
    return cli("submit", str(NOTEBOOK), "--site", site, "--config", config,
               "-p", f"year={TRAIN_YEAR}", "-p", f"data_url={url}").stdout.strip()


def wait_all(cli, runs: dict) -> dict:
    return {key: wait_for(cli, run_id, TERMINAL, timeout=600) for key, run_id in runs.items()}


def cache_state(folder: Path) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """A site's shared cache folder: every file with its size and mtime (CliMetLab's index
    aside), and how often the index counted each entry read (each staging and each job that
    uses the shared cache as its CliMetLab cache adds one)."""
    index = folder / "cache" / "cache-2.db"
    files = {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
             for p in folder.rglob("*") if p.is_file() and not p.name.startswith("cache-2.db")}
    if not index.exists():
        return files, {}
    with sqlite3.connect(f"{index.as_uri()}?mode=ro", uri=True) as db:
        return files, dict(db.execute("SELECT path, accesses FROM cache").fetchall())


def reads(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The index's entries read since ``before``: entry name and how often."""
    return {Path(path).name: count - before.get(path, 0) for path, count in after.items()
            if count != before.get(path, 0)}


@pytest.mark.timeout(1800)  # 13 runs with CliMetLab through four sites, shared machine
def test_data_is_staged_once_per_site_read_offline_and_its_failures_named(
        cli, sim, session_home, tmp_path, data_server):
    """Two waves: the first stages every site's data (and fails the bad runs beside it),
    the second finds everything in the sites' caches."""
    cli("sites", "add", STEP_SITE, "--base", "sim-firecrest", "--no-compute-network",
        "--data-partition", "devel", "--data-cache", str(session_home / "sim" / "staged"),
        "--data-cache-read-only")
    cli("sites", "add", READ_ONLY_SITE, "--base", "sim-firecrest", "--data-cache-read-only",
        "--data-cache", str(session_home / "sim" / "read-only"))
    folders = {"local": session_home / "data-cache",
               "sim-unicore": session_home / "sim" / "data-cache" / "unicore",
               "sim-firecrest": session_home / "sim" / "data-cache" / "firecrest",
               STEP_SITE: session_home / "sim" / "staged",
               READ_ONLY_SITE: session_home / "sim" / "read-only"}
    urls = {site: data_server.url(f"/{site}/t2m.nc") for site in DATA_SITES}
    configs = {site: write_config(tmp_path / f"{site}.yaml", {"Data": [
        {"Dataset": "mantik-demo-t2m", "Args": {"year": TRAIN_YEAR}},
        {"Source": "url", "Args": {"url": urls[site]}},
    ]}) for site in DATA_SITES}
    missing = data_server.url("/nowhere/t2m.nc")
    bad = {"404": ({"Source": "url", "Args": {"url": missing}}, [missing, "404"]),
           "plugin": ({"Dataset": "no-such-dataset", "Args": {"year": 1}},
                      ["no-such-dataset", "not installed", "mantik-demo-t2m"])}
    failing = {}
    for site, case in [("local", "404"), ("local", "plugin"), ("sim-unicore", "404"),
                       ("sim-unicore", "plugin"), (STEP_SITE, "404")]:
        config = write_config(tmp_path / f"{site}-{case}.yaml", {"Data": [bad[case][0]]})
        failing[site, case] = submit(cli, site, config, "")
    mlflow = MlflowClient(f"sqlite:///{session_home / 'mlflow.db'}")
    expected = {"t2m_train_mean": float(temperature(TRAIN_YEAR).t2m.mean()),
                "t2m_eval_mean": float(temperature(EVAL_YEAR).t2m.mean())}

    # cancelled while its staging job downloads: both jobs end, the staging job too
    held_config = write_config(tmp_path / "held.yaml", {"Data": [
        {"Source": "url", "Args": {"url": data_server.url("/hold/t2m.nc")}}]})
    held = submit(cli, STEP_SITE, held_config, "")
    deadline = time.monotonic() + 600
    while not data_server.requests("/hold/t2m.nc"):
        assert time.monotonic() < deadline, "the staging job never asked for its data"
        time.sleep(0.5)
    # the run shows its staging while it waits for it: 0 of its 1 item staged
    progress = None
    while not progress or progress["phase"] != "staging data":
        assert time.monotonic() < deadline, ("the run never showed its data staging",
                                             cli.json("show", held))
        progress = cli.json("show", held)["progress"]  # each show syncs the run first
    assert (progress["files_done"], progress["files_total"]) == (0, 1), progress
    assert cli("cancel", held).stdout.split() == [held, "CANCELLED"]
    assert cli.json("show", held)["progress"] is None
    jobs = {job["name"]: job for job in sim.jobs()}
    assert jobs[f"mantik-stage-{held}"]["state"] == "CANCELLED", jobs[f"mantik-stage-{held}"]
    assert jobs[f"mantik-{held}"]["state"] == "CANCELLED"
    data_server.release.set()

    for wave in ("first", "second"):
        states = {site: cache_state(folders[site]) for site in DATA_SITES}
        runs = {site: submit(cli, site, configs[site], urls[site]) for site in DATA_SITES}
        for site, run in wait_all(cli, runs).items():
            assert run["state"] == "COMPLETED", (site, run["reason"], cli("logs", run["id"]).stdout)
            assert run["progress"] is None  # its staging's, cleared once all was staged
            metrics = mlflow.get_run(run["mlflow_run_id"]).data.metrics
            for name, value in expected.items():
                assert metrics[name] == pytest.approx(value, abs=1e-9), (site, name)
            items = {entry["item"]: entry for entry in run["data"]}
            assert set(items) == {f"Dataset mantik-demo-t2m {{year: {TRAIN_YEAR}}}",
                                  f'Source url {{url: "{urls[site]}"}}'}, site
            assert all(entry["size"] > 1000 for entry in items.values()), items
            cached = {entry["cached"] for entry in items.values()}
            assert cached == ({False} if wave == "first" else {True}), (site, wave, items)
            # staging downloaded the file once (HEAD, GET); the compute step and the second
            # run asked for nothing: a request after the GET would have been refused (403)
            requests = data_server.requests(f"/{site}/t2m.nc")
            assert [status for _, _, status in requests] == [200, 200], (site, requests)
            assert "CLIMETLAB_MIRROR=" in run["script"]
            waits = "#SBATCH --dependency=afterok:" in run["script"]
            assert waits == (site == STEP_SITE), run["script"]  # for its staging job
            shown = cli("show", run["id"]).stdout
            assert f"data: Dataset mantik-demo-t2m {{year: {TRAIN_YEAR}}} (" in shown
            assert ("bytes, cached)" in shown) == (wave == "second"), shown
            check_shared_cache(site, run, urls[site], states[site], cache_state(folders[site]))
        if wave == "first":
            check_failures(cli, sim, wait_all(cli, failing), bad)


def check_shared_cache(site: str, run: dict, url: str, before: tuple, after: tuple) -> None:
    """The run's job used the shared cache as its CliMetLab cache (its read counted in the
    index beside staging's), or, where that is read-only for jobs, wrote nothing there: only
    staging's read of the dataset is counted, no file changed once the data was there (the
    second wave) and the job's own cache folder links to the staged dataset."""
    (files_before, index_before), (files_after, index_after) = before, after
    counted = reads(index_before, index_after)
    assert list(counted.values()) == [1 if site in READ_ONLY else 2], (site, counted)
    dataset = next(iter(counted))
    assert dataset.startswith("mantik-demo-t2m-"), counted
    private = 'MANTIK_CLIMETLAB_CACHE="$PWD/.mantik-climetlab-cache"'
    assert (private in run["script"]) == (site in READ_ONLY), (site, run["script"])
    if site not in READ_ONLY:
        return
    staged = {f"cache/{dataset}", "mirror/url/" + url.replace("://", "/", 1)}
    assert staged <= set(files_after), (site, files_after)
    if staged <= set(files_before):  # the data was there: staging and job wrote nothing
        assert files_after == files_before, site
    own = Path(run["work_dir"]) / ".mantik-climetlab-cache"
    assert (own / dataset).is_symlink() and (own / "cache-2.db").is_file(), list(own.iterdir())


def check_failures(cli, sim, ended: dict, bad: dict) -> None:
    """A staging failure: FAILED with item and cause, the notebook never run; on UNICORE
    (staged on the login node) no batch job was ever started, on the FirecREST site that
    stages in a job of its own the run's job was cancelled before it started."""
    jobs = {job["name"]: job for job in sim.jobs()}
    for (site, case), run in ended.items():
        assert run["state"] == "FAILED", (site, case, run)
        assert run["reason"].startswith("staging data failed: "), run["reason"]
        for words in bad[case][1]:
            assert words in run["reason"], (site, case, run["reason"])
        assert "Input Notebook" not in cli("logs", run["id"]).stdout  # papermill never ran
        assert run["data"] == []
        job = jobs.get(f"mantik-{run['id']}")
        if site == "sim-unicore":
            assert job["state"] == "FAILED" and job["nativeId"] is None, job
        if site == STEP_SITE:
            assert job["state"] == "CANCELLED", job
            assert jobs[f"mantik-stage-{run['id']}"]["state"] == "FAILED"


def test_bad_data_is_refused_before_anything_is_submitted(cli, tmp_path):
    config = write_config(tmp_path / "bad.yaml", {"Data": [{"Dataset": "a", "Source": "url"}]})
    before = cli("runs", "--json").stdout
    proc = cli("submit", str(NOTEBOOK), "--site", "local", "--config", config, check=False)
    assert proc.returncode != 0
    assert "Data[0]: give exactly one of Dataset or Source, got Dataset, Source" in proc.stderr
    assert cli("runs", "--json").stdout == before
