"""A site (or a job) that offers more than a run's download budget: the download is refused,
naming ``Download.MaxSize``, and nothing of it stays on this machine. On the simulator,
through the real pyunicore and pyfirecrest clients."""

from __future__ import annotations

import pytest
from helpers import make_notebook

from mantik_jupyter.errors import LimitError
from mantik_jupyter.request import SubmitRequest
from mantik_jupyter.service import RunService

SITES = ("sim-unicore", "sim-firecrest")
BIG = 3 * 1024 * 1024  # over the 1 MB budget below


@pytest.mark.timeout(600)
def test_a_download_over_the_budget_is_refused_and_leaves_nothing(
        sim_home, tmp_path):
    service = RunService(sim_home)
    nb = make_notebook(tmp_path / "p" / "nb.ipynb", None,
                       f"open('big.bin', 'wb').write(b'x' * {BIG})\n"
                       "open('small.txt', 'w').write('small')")
    runs = [service.submit(SubmitRequest(str(nb), site=site,
                                         config={"Download": {"MaxSize": "1M"}}))
            for site in SITES]
    for submitted in runs:
        run = service.wait(submitted.id, timeout=300)
        assert run.state == "COMPLETED", (run.site, run.state, run.reason)
        to = tmp_path / f"to-{run.site}"
        for path in ("big.bin", ""):  # the file, or the folder holding it
            with pytest.raises(LimitError) as err:
                service.download(run.id, path, to)
            assert err.value.key == "Download.MaxSize"
            assert err.value.message == (
                f"downloading {path or run.id!r} of run {run.id}: more than 1.0 MB "
                "(Download.MaxSize) (big.bin is 3.0 MB); nothing of it was kept; download a "
                "smaller part, or raise Download.MaxSize in the run's config"), run.site
            assert list(to.iterdir()) == [], run.site  # no partial file, no temporary folder
        assert service.download(run.id, "small.txt", to).read_text() == "small"
        assert [p.name for p in to.iterdir()] == ["small.txt"]
