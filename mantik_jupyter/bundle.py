"""Bundle: a notebook's project folder staged as an MLflow MLproject with a manifest.

The staging copy drops ``Exclude`` globs and always ``.git/``, ``.ipynb_checkpoints/`` and
``__pycache__/``; files are hashed while they are copied (one read per file). The
``main`` entry point runs papermill on the notebook with the run's parameters from a YAML
file (so ints, floats, bools, strings with spaces, lists and dicts keep their types),
writing the executed notebook to its own file and streaming cell output to the job log.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .errors import ConfigError

ALWAYS_EXCLUDED = (".git", ".ipynb_checkpoints", "__pycache__")
MANIFEST = "mantik-run.json"
PARAMETERS_FILE = "mantik-parameters.yaml"
OUTPUT_DIR = "mantik-output"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Bundle:
    """A staged bundle: its folder, the file hashes and the command the job runs."""

    path: Path
    notebook: str  # the notebook, relative to the bundle root
    output_notebook: str  # where the executed notebook is written, relative too
    files: dict[str, str]  # relative path -> sha256
    bundle_hash: str
    command: str  # the main entry point's command, rendered with its defaults
    size: int  # bytes of all files


def project_root(notebook: Path, declared: str | None) -> Path:
    """The folder to bundle: the declared ``ProjectRoot`` or the notebook's folder."""
    notebook = notebook.resolve()
    if not declared:
        return notebook.parent
    root = Path(declared).expanduser()
    root = (root if root.is_absolute() else notebook.parent / root).resolve()
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
    path = PurePosixPath(relative)
    for pattern in patterns:
        pat = pattern.strip().rstrip("/")
        if pat.endswith("/**"):
            pat = pat[:-3]
        if not pat:
            continue
        if fnmatch.fnmatchcase(relative, pat) or fnmatch.fnmatchcase(path.name, pat):
            return True
    return False


def stage(
    notebook: Path,
    *,
    run_id: str,
    config: dict,
    parameters: dict[str, Any],
    dest: Path,
    skip: tuple[Path, ...] = (),
) -> Bundle:
    """Copy the project into ``dest`` (created), write MLproject, parameters and manifest."""
    root = project_root(notebook, config.get("ProjectRoot"))
    patterns = list(config.get("Exclude", []))
    skip_resolved = tuple(p.resolve() for p in skip)
    dest.mkdir(parents=True, exist_ok=False, mode=0o700)
    files: dict[str, str] = {}
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in ALWAYS_EXCLUDED
            and not is_excluded(rel_dir + d, patterns)
            and (here / d).resolve() not in skip_resolved
        )
        for name in sorted(filenames):
            relative = rel_dir + name
            source = here / name
            if is_excluded(relative, patterns) or not source.is_file():
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            files[relative], copied = _copy_hashing(source, target)
            size += copied

    notebook_rel = notebook.resolve().relative_to(root).as_posix()
    if notebook_rel not in files:
        raise ConfigError(
            f"the notebook {notebook_rel!r} is excluded by Exclude; remove that pattern",
            key="Exclude",
        )
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
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
    return Bundle(dest, notebook_rel, output_rel, files, bundle_hash, command, size)


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    copied = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            copied += len(chunk)
    os.chmod(target, os.stat(source).st_mode & 0o777)
    return digest.hexdigest(), copied


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
