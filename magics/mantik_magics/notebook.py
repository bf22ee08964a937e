"""Which notebook a magic belongs to, so ``%%mantik_submit`` packages the right file.

In order: ``--notebook PATH``; the notebook of this kernel's session on the Jupyter server
that started it (robust to renames: the server follows them); ``$JPY_SESSION_NAME`` (the
path the session had when the kernel started) if that file holds the magic's cell; else
the one notebook in the working directory holding the magic's cell.

Saving first: with a server, if a frontend registered the ``mantik:save`` comm target for
this kernel (it says so with ``PUT mantik/api/kernels/<id>/save-frontend``), the magic opens
a comm to it with data ``{"path": <the notebook's server path>}``. A frontend that registered that
target saves the notebook through the contents API, answers ``{saved, path}`` and closes
the comm; the kernel never closes it. It waits up to :data:`SAVE_WAIT` seconds for that
answer or for the file's ``last_modified`` to change; if neither comes, the file as last
saved is packaged and the magic says so.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import ClientError
from .server import JupyterServer

SAVE_COMM_TARGET = "mantik:save"
SAVE_WAIT = 2.0


@dataclass(frozen=True)
class Located:
    """A notebook to submit: the path the client takes, and how it was found."""

    path: str
    how: str


def locate(server: JupyterServer | None, explicit: str | None, cell: str) -> Located:
    """The notebook to package for a magic whose cell source is ``cell``."""
    if explicit:
        path = Path(explicit).expanduser().resolve()
        return Located(str(path), f"packaging {path} (given with --notebook)")
    if server is not None:
        found = _session_path(server)
        if found:
            return Located(found, f"packaging {found}: {_request_save(server, found)}")
    session_name = os.environ.get("JPY_SESSION_NAME")
    if session_name and _holds_cell(Path(session_name), cell):
        path = Path(session_name).resolve()
        return Located(str(path), f"packaging {path} (this kernel's session)")
    return _search(Path.cwd(), cell)


def kernel_id() -> str | None:
    """This kernel's id, from its connection file name ``kernel-<id>.json``."""
    try:
        from ipykernel import get_connection_file

        stem = Path(get_connection_file()).stem
    except (ImportError, RuntimeError):
        return None
    return stem.removeprefix("kernel-") if stem.startswith("kernel-") else None


def _session_path(server: JupyterServer) -> str | None:
    """The path of the server session whose kernel is this one."""
    kid = kernel_id()
    if kid is None:
        return None
    for session in server.json("GET", "api/sessions"):
        if (session.get("kernel") or {}).get("id") == kid:
            return session.get("path")
    return None


def _last_modified(server: JupyterServer, path: str) -> str | None:
    model = server.json("GET", f"api/contents/{quote(path)}", params={"content": 0})
    return model.get("last_modified")


def _frontend_saves(server: JupyterServer) -> bool:
    """True if a frontend with the ``mantik:save`` target said it has this kernel open."""
    try:
        answer = server.json("GET", f"mantik/api/kernels/{quote(kernel_id() or '')}"
                                    "/save-frontend")
    except ClientError:  # a server without that route: nobody said so
        return False
    return bool(answer.get("saves"))


def _request_save(server: JupyterServer, path: str) -> str:
    """Ask the frontend to save ``path``; says whether the saved file is fresh.

    The frontend ends the exchange: it closes the comm after answering, or at once when it
    has no such target, so the kernel never closes it too (a second close is the browser's
    "Comm not found" error). Its answer arrives during the wait where the frontend sends
    comm messages over a subshell (JupyterLab 4.4+ with ipykernel 7); else the saved file's
    ``last_modified`` tells.
    """
    from comm import create_comm

    before = _last_modified(server, path)
    if not _frontend_saves(server):
        return (f"no frontend that saves notebooks has it open, so the file as last saved "
                f"({before}) is packaged")
    answers: list[dict] = []
    channel = create_comm(target_name=SAVE_COMM_TARGET, data={"path": path})
    channel.on_msg(lambda msg: answers.append(msg["content"]["data"]))
    deadline = time.monotonic() + SAVE_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if any(a.get("saved") for a in answers) or _last_modified(server, path) != before:
            return "saved by the frontend just now"
        failed = [a for a in answers if a.get("saved") is False]
        if failed:
            return (f"the frontend could not save it ({failed[0].get('error')}), so the file "
                    f"as last saved ({before}) is packaged")
    return (f"no frontend saved it within {SAVE_WAIT:g} s, so the file as last saved "
            f"({before}) is packaged")


def _code_sources(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    cells = data.get("cells") if isinstance(data, dict) else None
    return ["".join(c.get("source", "")) if isinstance(c.get("source"), list)
            else str(c.get("source", ""))
            for c in cells or [] if isinstance(c, dict) and c.get("cell_type") == "code"]


def _holds_cell(path: Path, cell: str) -> bool:
    return path.suffix == ".ipynb" and cell.strip() in (s.strip() for s in _code_sources(path))


def _papermill_input(path: Path) -> str | None:
    """The input notebook's name when ``path`` is a papermill output, else None."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    source = (meta.get("papermill") or {}).get("input_path")
    return Path(source).name if source else None


def _search(folder: Path, cell: str) -> Located:
    """The one notebook in ``folder`` holding ``cell`` (papermill outputs give way)."""
    found = [p for p in sorted(folder.glob("*.ipynb")) if _holds_cell(p, cell)]
    names = {p.name for p in found}
    if len(found) > 1:
        found = [p for p in found if _papermill_input(p) not in names - {p.name}]
    if len(found) == 1:
        return Located(str(found[0].resolve()),
                       f"packaging {found[0].resolve()} (the notebook in {folder} "
                       "that holds this cell)")
    if not found:
        raise ClientError(
            f"cannot tell which notebook this is: no notebook in {folder} holds this cell "
            "(save the notebook first), so give it with --notebook PATH", key="notebook")
    listed = ", ".join(p.name for p in found)
    raise ClientError(
        f"cannot tell which notebook this is: {len(found)} notebooks in {folder} hold this "
        f"cell ({listed}); choose one with --notebook PATH", key="notebook")
