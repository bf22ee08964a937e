"""The job's CliMetLab set-up before the notebook, run by bash as the job runs it: with the
site's shared cache read-only for jobs, the job's cache is a folder of its own linking to
the shared data files (never CliMetLab's index or locks), and the shared folder is left as
it was; without the setting the job uses the shared cache as before."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mantik_jupyter import data
from mantik_jupyter.spec import RunSpec


def snapshot(top: Path) -> dict[str, tuple[int, int]]:
    """Every path below ``top`` with its size and modification time."""
    return {str(p.relative_to(top)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in sorted(top.rglob("*"))}


def run_lines(lines: list[str], cwd: Path) -> list[str]:
    """The job's lines run by bash in ``cwd``; the cache and mirror they export."""
    script = "\n".join([*lines, 'echo "$MANTIK_CLIMETLAB_CACHE"', 'echo "$CLIMETLAB_MIRROR"'])
    proc = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True,
                          check=True)
    return proc.stdout.splitlines()


def test_a_read_only_shared_cache_is_linked_into_the_jobs_own_cache(tmp_path: Path):
    shared = tmp_path / "shared cache"  # a space: the folder is quoted in the script
    (shared / "cache" / "unpacked").mkdir(parents=True)
    (shared / "mirror").mkdir()
    for name in ("ens10-1.grib", "cache-2.db", "cache-2.db-journal", "ens10-1.grib.lock"):
        (shared / "cache" / name).write_bytes(b"x" * 10)
    before = snapshot(shared)
    job = tmp_path / "job"
    job.mkdir()
    (job / data.KERNEL_STARTUP).write_text("")
    lines = data.job_lines(str(shared), stage=False, read_only=True)
    private = job / data.PRIVATE_CACHE
    # twice: the tasks of a sweep's array share their job folder
    for _ in range(2):
        assert run_lines(lines, job) == [str(private), f"{shared}/mirror"]
    links = {p.name: os.readlink(p) for p in private.iterdir()}
    assert links == {name: str(shared / "cache" / name) for name in ("ens10-1.grib", "unpacked")}
    assert snapshot(shared) == before
    assert (job / ".mantik-ipython/profile_default/startup/00-mantik-data.py").exists()


def test_without_the_setting_the_job_uses_the_shared_cache(tmp_path: Path):
    job = tmp_path / "job"
    job.mkdir()
    (job / data.KERNEL_STARTUP).write_text("")
    lines = data.job_lines("/scratch/cml", stage=False)
    assert run_lines(lines, job) == ["/scratch/cml/cache", "/scratch/cml/mirror"]
    assert not (job / data.PRIVATE_CACHE).exists()


@pytest.mark.parametrize("read_only", [False, True])
def test_the_kernel_reads_offline_from_the_cache_folder_the_job_exports(tmp_path, read_only):
    """The kernel's startup file, run by the run's Python with climetlab, after the lines."""
    pytest.importorskip("climetlab", reason="climetlab is in the test extras: pip install .[test]")
    job = tmp_path / "job"
    job.mkdir()
    spec = RunSpec.from_config({"Data": [{"Source": "url", "Args": {"url": "http://x/a.nc"}}]})
    for name, content in data.files(spec, str(tmp_path / "shared")).items():
        (job / name).write_bytes(content)
    (tmp_path / "shared" / "cache").mkdir(parents=True)
    (job / "show.py").write_text(
        "import os, runpy, climetlab as cml\n"
        "runpy.run_path(os.environ['IPYTHONDIR'] + '/profile_default/startup/00-mantik-data.py')\n"
        "print(*(cml.settings.get(name) for name in ('cache-directory', "
        "'check-out-of-date-urls', 'datasets-catalogs-urls')))\n")
    lines = data.job_lines(str(tmp_path / "shared"), stage=False, read_only=read_only)
    script = "\n".join([*lines, f"{shlex.quote(sys.executable)} show.py"])
    proc = subprocess.run(["bash", "-c", script], cwd=job, capture_output=True, text=True,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    cache = job / data.PRIVATE_CACHE if read_only else tmp_path / "shared" / "cache"
    assert proc.stdout.split() == [str(cache), "False", "[]"]
