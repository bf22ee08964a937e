"""Bundle: a notebook's project folder staged as an MLflow MLproject with a manifest.

What is sent (see README, Security): the project folder (the notebook's, or ``ProjectRoot``)
without ``Exclude`` globs, without ``.git/``, ``.ipynb_checkpoints/`` and ``__pycache__/``,
and without hidden (dot) files and folders unless ``Bundle.IncludeHidden`` admits them.
Symlinks are never followed out of the project: one leading outside, or to a folder, is
skipped with a warning; FIFOs, sockets and devices are skipped. The bundle must stay within
``Bundle.MaxFiles`` and ``Bundle.MaxSize``. :func:`plan` lists all that without reading a
byte; :func:`stage` hashes the files through a :class:`~.hashcache.HashCache` and writes only
the generated files (MLproject, parameters, manifest), so the project is read once, when
a backend sends or copies it, and an unchanged one costs only its ``stat`` calls.

The ``main`` entry point runs papermill on the notebook with the run's parameters from a YAML
file (so ints, floats, bools, strings with spaces, lists and dicts keep their types),
writing the executed notebook to its own file and streaming cell output to the job log.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import shlex
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import yaml

from .errors import ConfigError, ForbiddenError
from .hashcache import HashCache, Key, changed, stat_key
from .paths import open_regular

log = logging.getLogger(__name__)

ALWAYS_EXCLUDED = (".git", ".ipynb_checkpoints", "__pycache__")
MANIFEST = "mantik-run.json"
PARAMETERS_FILE = "mantik-parameters.yaml"
OUTPUT_DIR = "mantik-output"
#: Names the bundle and the backends write at the top of a run folder (the manifest, the
#: job's script, log, secrets, restore list, records, image and offline MLflow store): a
#: project file of one of these names would be overwritten, so it is refused.
RESERVED_NAMES = frozenset({"MLproject", MANIFEST, PARAMETERS_FILE, OUTPUT_DIR,
                            "mantik-job.sh", "mantik-job.log", "mantik-image", "mantik-mlruns",
                            ".mantik-files", ".mantik-secrets", ".mantik-job"})
MAX_FILES = 10_000
MAX_SIZE_MB = 2048
_CHUNK = 1 << 20


class PlannedFile(NamedTuple):  # a tuple: thousands are made per submit, cheaply
    """One project file to send: where it is in the bundle, where its bytes are, its stat."""

    relative: str
    source: str  # a path (text: a Path per file would cost more than its lstat)
    key: Key

    @property
    def size(self) -> int:
        return self.key[0]


@dataclass(frozen=True)
class Plan:
    """What a submission would send, found by ``lstat`` alone: files, sizes, what is left
    out and why."""

    root: Path
    notebook: str  # relative to root
    files: list[PlannedFile]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative, why)

    @cached_property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def largest(self, count: int = 5) -> list[PlannedFile]:
        return sorted(self.files, key=lambda f: (-f.size, f.relative))[:count]

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "notebook": self.notebook, "files": len(self.files),
                "bytes": self.size,
                "largest": [{"path": f.relative, "bytes": f.size} for f in self.largest()],
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


@dataclass(frozen=True)
class Bundle:
    """A staged bundle: its folder, the file hashes and the command the job runs.

    ``path`` holds the generated files; project files stay where they are (``sources``)
    until a backend sends them (:meth:`source`) or copies them (:meth:`copy_project`).
    """

    path: Path
    notebook: str  # the notebook, relative to the bundle root
    output_notebook: str  # where the executed notebook is written, relative too
    files: dict[str, str]  # relative path -> sha256
    bundle_hash: str
    command: str  # the main entry point's command, rendered with its defaults
    size: int  # bytes of all files
    sources: dict[str, PlannedFile] = field(default_factory=dict, repr=False)

    def source(self, relative: str) -> Path:
        """The local file holding a bundle file's bytes, refused if it changed since it
        was hashed (its stat is compared)."""
        planned = self.sources.get(relative)
        if planned is None:
            return self.path / relative
        if stat_key(os.lstat(planned.source)) != planned.key:
            raise changed(Path(planned.source))
        return Path(planned.source)

    def copy_project(self, target: Path) -> None:
        """Copy the project files into ``target`` (a run folder), each checked against its
        hash while it is copied."""
        for relative, planned in self.sources.items():
            dest = target / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd = open_regular(Path(planned.source))
            digest = hashlib.sha256()
            with os.fdopen(fd, "rb") as src, open(dest, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                os.chmod(dest, os.fstat(fd).st_mode & 0o777)
            if digest.hexdigest() != self.files[relative]:
                raise changed(Path(planned.source))


def project_root(notebook: Path, declared: str | None, within: Path | None = None) -> Path:
    """The folder to bundle: the declared ``ProjectRoot`` or the notebook's folder.

    With ``within`` (the server's contents root) both must lie inside it. Without it (the
    CLI), the root may be the home folder only when declared, and never a folder above it.
    """
    notebook = notebook.resolve()
    if within is not None and within.resolve() not in notebook.parents:
        raise ForbiddenError(f"the notebook {str(notebook)!r} is outside the Jupyter contents "
                             "root", key="notebook")
    home = Path.home().resolve()
    if not declared:
        if notebook.parent == home:
            raise ConfigError(
                f"the notebook {notebook.name!r} is directly in your home folder, whose whole "
                "content would be uploaded; move it into a project folder, or set "
                "ProjectRoot: '.' to send the home folder (hidden files stay out)",
                key="ProjectRoot")
        return notebook.parent
    root = Path(declared).expanduser()
    root = (root if root.is_absolute() else notebook.parent / root).resolve()
    if within is not None and root != within.resolve() and within.resolve() not in root.parents:
        raise ForbiddenError(f"ProjectRoot {declared!r} is outside the Jupyter contents root",
                             key="ProjectRoot")
    if within is None and root in home.parents:
        raise ForbiddenError(f"ProjectRoot {declared!r} is {str(root)!r}, which holds your home "
                             "folder; use the folder of your project", key="ProjectRoot")
    if not root.is_dir():
        raise ConfigError(f"ProjectRoot {declared!r} is not a folder", key="ProjectRoot")
    if root not in notebook.parents:
        raise ConfigError(
            f"ProjectRoot {declared!r} must contain the notebook {notebook.name!r}",
            key="ProjectRoot",
        )
    return root


def is_excluded(relative: str, patterns: list[str]) -> bool:
    """True if a relative posix path matches an ``Exclude`` glob (by path or by name).

    ``data/``, ``data/**`` and ``data`` all exclude the folder ``data`` and its content.
    """
    name = relative.rpartition("/")[2]
    for pattern in patterns:
        pat = pattern.strip().rstrip("/")
        if pat.endswith("/**"):
            pat = pat[:-3]
        if not pat:
            continue
        if fnmatch.fnmatchcase(relative, pat) or fnmatch.fnmatchcase(name, pat):
            return True
    return False


def plan(
    notebook: Path, config: dict, *, within: Path | None = None, skip: tuple[Path, ...] = ()
) -> Plan:
    """List what a submission of ``notebook`` with ``config`` would send; reads no file.

    Refuses a root outside its limits (see :func:`project_root`) and a bundle over budget.
    """
    notebook = Path(notebook).resolve()
    root = project_root(notebook, config.get("ProjectRoot"), within)
    options = config.get("Bundle", {})
    walk = _Walk(root, list(config.get("Exclude", [])), list(options.get("IncludeHidden", [])),
                 {p.resolve() for p in skip}, options.get("MaxFiles", MAX_FILES),
                 options.get("MaxSize", MAX_SIZE_MB), notebook.relative_to(root).as_posix())
    walk.folder(root, "")
    for relative, reason in walk.skipped:
        if reason.startswith("a symlink"):
            log.warning("not bundled: %s is %s", relative, reason)
    result = Plan(root, walk.notebook, walk.files, sorted(walk.skipped))
    if not walk.notebook_seen:
        raise ConfigError(
            f"the notebook {result.notebook!r} is excluded by Exclude; remove that pattern",
            key="Exclude",
        )
    clash = sorted(name for name in walk.reserved
                   if any(f.relative == name or f.relative.startswith(name + "/")
                          for f in walk.files))
    if clash:
        raise ConfigError(
            f"the project holds {clash[0]!r}, a name mantik-jupyter writes into the run folder "
            "and would overwrite; rename it or leave it out with Exclude", key="Exclude",
            details={"path": clash[0]})
    walk.check_size(result)
    return result


class _Walk:
    """One walk of a project folder by ``scandir``, never following a symlink."""

    def __init__(self, root: Path, exclude: list[str], hidden: list[str], skip: set[Path],
                 max_files: int, max_size: Any, notebook: str):
        self.root, self.exclude, self.hidden, self.skip = root, exclude, hidden, skip
        self.max_files, self.max_size, self.notebook = max_files, max_size, notebook
        self.files: list[PlannedFile] = []
        self.skipped: list[tuple[str, str]] = []
        self.reserved: list[str] = []  # top-level names a run folder has of its own
        self.notebook_seen = False

    def folder(self, path: Path, prefix: str) -> None:
        with os.scandir(path) as entries:  # unsorted: the manifest and hash sort the files
            for entry in entries:
                if not prefix and entry.name in RESERVED_NAMES:
                    self.reserved.append(entry.name)
                self.entry(entry, prefix + entry.name)

    def left_out(self, relative: str) -> str | None:
        """Why a path is not sent by name alone (None: it is sent)."""
        name = relative.rpartition("/")[2]
        if not (name[0] == "." or name in ALWAYS_EXCLUDED or self.exclude):
            return None  # the common case, decided without a glob
        if name in ALWAYS_EXCLUDED or is_excluded(relative, self.exclude):
            return "excluded"
        if name.startswith(".") and not is_excluded(relative, self.hidden):
            return "hidden (admit it with Bundle.IncludeHidden)"
        return None

    def entry(self, entry: os.DirEntry, relative: str) -> None:
        why = self.left_out(relative)
        if why is not None:
            if why != "excluded":
                self.skipped.append((relative, why))
            return
        if entry.is_symlink():
            self.symlink(Path(entry.path), relative)
        elif entry.is_dir(follow_symlinks=False):
            if Path(entry.path).resolve() not in self.skip:
                self.folder(Path(entry.path), relative + "/")
        elif entry.is_file(follow_symlinks=False):
            self.add(relative, entry.path, entry.stat(follow_symlinks=False))
        else:
            self.skipped.append((relative, "not a regular file (a FIFO, socket or device)"))

    def symlink(self, link: Path, relative: str) -> None:
        target = link.resolve()
        if target != self.root and self.root not in target.parents:
            self.skipped.append((relative, "a symlink leading outside the project"))
        elif any(self.left_out(p) for p in _prefixes(target.relative_to(self.root))):
            self.skipped.append((relative, "a symlink into a left-out path"))
        elif target.is_dir():
            self.skipped.append((relative, "a symlink to a folder (not followed)"))
        elif target.is_file():
            self.add(relative, str(target), os.stat(target))
        else:
            self.skipped.append((relative, "a symlink to nothing or to a non-regular file"))

    def add(self, relative: str, source: str, info: os.stat_result) -> None:
        """A regular file to send (``is_file`` said so, without following a link)."""
        self.files.append(PlannedFile(relative, source, stat_key(info)))
        if relative == self.notebook:
            self.notebook_seen = True
        if len(self.files) > self.max_files:  # stop at once: the folder may be huge
            raise ConfigError(
                f"the project folder {str(self.root)!r} holds more than {self.max_files} files "
                "(Bundle.MaxFiles); leave folders out with Exclude, choose a smaller "
                "ProjectRoot, or raise Bundle.MaxFiles", key="Bundle.MaxFiles")

    def check_size(self, result: Plan) -> None:
        limit_mb = _megabytes(self.max_size)
        if result.size <= limit_mb * 1024 * 1024:
            return
        largest = ", ".join(f"{f.relative} ({_human(f.size)})" for f in result.largest(3))
        raise ConfigError(
            f"the project folder {str(self.root)!r} holds {_human(result.size)}, more than "
            f"Bundle.MaxSize ({_human(limit_mb * 1024 * 1024)}); the largest files: {largest}; "
            "leave them out with Exclude or raise Bundle.MaxSize", key="Bundle.MaxSize",
            details={"bytes": result.size, "largest": [f.relative for f in result.largest()]})


def _prefixes(path: Path) -> list[str]:
    """``a``, ``a/b``, ``a/b/c`` for ``a/b/c``."""
    parts = path.parts
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _megabytes(value: Any) -> int:
    from .spec import parse_memory

    return parse_memory(value, "Bundle.MaxSize")


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def describe(result: Plan) -> str:
    """The plan as a user reads it before sending: count, bytes, largest, skipped."""
    lines = [f"would upload {len(result.files)} files, {_human(result.size)}, from "
             f"{result.root} (plus the generated MLproject, parameters and manifest)",
             "largest:"]
    lines += [f"  {_human(f.size):>10}  {f.relative}" for f in result.largest()]
    if result.skipped:
        lines.append("left out:")
        lines += [f"  {path}: {reason}" for path, reason in result.skipped]
    lines.append("nothing was sent (--dry-run)")
    return "\n".join(lines)


def stage(
    notebook: Path,
    *,
    run_id: str,
    config: dict,
    parameters: dict[str, Any],
    dest: Path,
    skip: tuple[Path, ...] = (),
    within: Path | None = None,
    hashes: HashCache | None = None,
) -> Bundle:
    """Plan the bundle, hash its files (cached), write MLproject, parameters and manifest
    into ``dest`` (created)."""
    planned = plan(notebook, config, within=within, skip=skip)
    notebook_rel = planned.notebook
    # the notebook is copied now, the rest sent from where it is: JupyterLab saves the
    # notebook again while it runs (a magics cell submits the notebook it is in) and the
    # server bundles and uploads in the background meanwhile
    sources = {f.relative: f for f in planned.files if f.relative != notebook_rel}
    digests = (hashes or HashCache(None)).digests(((f.source, f.key) for f in sources.values()),
                                                  scope=str(planned.root))
    files = {f.relative: digests[f.source] for f in sources.values()}
    dest.mkdir(parents=True, exist_ok=False, mode=0o700)
    with os.fdopen(open_regular(notebook), "rb") as fh:
        snapshot = fh.read()
    (dest / notebook_rel).parent.mkdir(parents=True, exist_ok=True)
    (dest / notebook_rel).write_bytes(snapshot)
    files[notebook_rel] = hashlib.sha256(snapshot).hexdigest()
    size = sum(f.size for f in sources.values()) + len(snapshot)
    output_rel = f"{OUTPUT_DIR}/{PurePosixPath(notebook_rel).name}"
    command = papermill_command(notebook_rel, output_rel, PARAMETERS_FILE)
    generated = {
        PARAMETERS_FILE: yaml.safe_dump(parameters, sort_keys=True, allow_unicode=True),
        "MLproject": mlproject_text(notebook_rel, output_rel),
    }
    for relative, text in generated.items():
        data = text.encode()
        (dest / relative).write_bytes(data)
        files[relative] = hashlib.sha256(data).hexdigest()
        size += len(data)
    (dest / OUTPUT_DIR).mkdir(exist_ok=True)
    bundle_hash = _bundle_hash(files)
    manifest = {
        "run_id": run_id,
        "notebook": notebook_rel,
        "output_notebook": output_rel,
        "parameters": parameters,
        "spec": config,
        "files": files,
        "bundle_hash": bundle_hash,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, sort_keys=True, default=str))
    return Bundle(dest, notebook_rel, output_rel, files, bundle_hash, command, size, sources)


def _bundle_hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for relative in sorted(files):
        digest.update(f"{relative}\0{files[relative]}\n".encode())
    return digest.hexdigest()


def papermill_command(notebook: str, output: str, parameters_file: str) -> str:
    """The shell command of the ``main`` entry point, every path quoted."""
    cwd = str(PurePosixPath(notebook).parent)
    return " ".join([
        "papermill", shlex.quote(notebook), shlex.quote(output),
        "-f", shlex.quote(parameters_file), "--cwd", shlex.quote(cwd),
        "--log-output", "--no-progress-bar",
    ])


def mlproject_text(notebook: str, output: str) -> str:
    """An MLproject whose ``main`` runs papermill; ``mlflow run . --env-manager local`` works.

    It holds nothing run-specific, so equal content gives an equal bundle hash.
    """
    template = papermill_command(notebook, output, "PARAMS").replace(
        "PARAMS", "{parameters_file}"
    )
    project = {
        "name": PurePosixPath(notebook).stem,
        "entry_points": {
            "main": {
                "parameters": {
                    "parameters_file": {"type": "path", "default": PARAMETERS_FILE},
                },
                "command": template,
            }
        },
    }
    return yaml.safe_dump(project, sort_keys=False)
