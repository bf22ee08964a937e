"""Stage a run's CliMetLab data where the network is, into the site's shared cache folder.

Runs on the site in the run's own Python environment (on the login node, in a staging job
or in the job itself before the notebook) with only the standard library and climetlab:
it travels to the job directory as a file, so mantik-jupyter need not be installed there.
Every URL goes into a ``DirectoryMirror`` under the cache folder, which the job reads
through ``CLIMETLAB_MIRROR`` before any cache or network; whatever else a dataset caches
goes to the CliMetLab cache in the same folder. A report lists each item with its size and
whether it was there already, or names the item that failed and why; exit code 1 then.

``python3 data_stage.py ITEMS_JSON CACHE_FOLDER REPORT_JSON``
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

MIRROR = "mirror"
CACHE = "cache"
#: written beside the report while staging goes on: items done of all, their bytes
PROGRESS = "mantik-data-progress.json"
#: CliMetLab's own bookkeeping in its cache folder (changes on every read, holds no data)
BOOKKEEPING = (".db", ".db-journal", ".db-wal", ".db-shm", ".lock")


def offline_settings(folder: str) -> dict[str, Any]:
    """CliMetLab settings of staging and of the job: the shared cache, no out-of-date checks
    of cached URLs and no remote dataset catalogues (a plugin must be installed)."""
    return {"cache-directory": os.path.join(folder, CACHE), "check-out-of-date-urls": False,
            "datasets-catalogs-urls": []}


def describe(item: dict[str, Any]) -> str:
    """An item as the config names it: ``Dataset maelstrom-ens10 {date: ...}``."""
    kind = "Dataset" if "Dataset" in item else "Source"
    args = item.get("Args") or {}
    shown = ", ".join(f"{k}: {json.dumps(v)}" for k, v in args.items())
    return f"{kind} {item[kind]}" + (f" {{{shown}}}" if shown else "")


def files_under(*roots: str) -> dict[str, int]:
    """Every data file below ``roots`` with its size (CliMetLab's bookkeeping left out)."""
    found = {}
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                if not name.endswith(BOOKKEEPING):
                    path = os.path.join(folder, name)
                    found[os.path.realpath(path)] = os.path.getsize(path)
    return found


def source_paths(obj: Any, seen: set[int] | None = None) -> list[str]:
    """The files a loaded dataset or source reads (its own and its sub-sources')."""
    seen = set() if seen is None else seen
    if obj is None or id(obj) in seen:
        return []
    seen.add(id(obj))
    path = getattr(obj, "path", None)
    paths = [os.path.realpath(path)] if isinstance(path, str) and os.path.exists(path) else []
    try:
        children = [getattr(obj, "source", None), *(getattr(obj, "sources", None) or [])]
    except Exception:  # noqa: BLE001 - a dataset may compute these lazily; its path suffices
        children = []
    for child in children:
        paths += source_paths(child, seen)
    return paths


def size_of(paths: list[str]) -> int:
    """Bytes in these files and folders."""
    return sum(sum(files_under(p).values()) if os.path.isdir(p) else os.path.getsize(p)
               for p in paths)


def load(cml: Any, item: dict[str, Any]) -> Any:
    """What the notebook's own call gives: ``cml.load_dataset`` / ``cml.load_source``."""
    args = item.get("Args") or {}
    if "Dataset" in item:
        return cml.load_dataset(item["Dataset"], **args)
    return cml.load_source(item["Source"], **args)


def cause(item: dict[str, Any], exc: BaseException) -> str:
    """Why loading ``item`` failed, in one line (a missing plugin named as such)."""
    if isinstance(exc, NameError) and str(exc).startswith("Cannot find"):
        kind = "dataset" if "Dataset" in item else "source"
        from importlib.metadata import entry_points

        names = sorted(e.name for e in entry_points(group=f"climetlab.{kind}s"))
        name = item["Dataset" if kind == "dataset" else "Source"]
        return (f"the CliMetLab {kind} plugin {name!r} is not installed in the run's Python "
                f"environment ({sys.prefix}); installed {kind} plugins: "
                f"{', '.join(names) or 'none'}")
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def write_json(path: str, data: dict[str, Any]) -> None:
    """Replace the JSON file at ``path`` whole (a reader never sees half of it)."""
    partial = f"{path}.part"
    with open(partial, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(partial, path)


def stage(items: list[dict[str, Any]], folder: str, report: dict[str, Any],
          progress: str | None = None) -> int:
    """Load every item into the mirror and cache under ``folder``; 0 if all arrived. The
    file ``progress`` (if given) says how many items are done so far, for the engine to
    show while the run waits for its data."""
    def note() -> None:
        if progress:
            write_json(progress, {"files_done": len(report["items"]), "files_total": len(items),
                                  "bytes_done": sum(i["size"] for i in report["items"])})

    note()
    mirror, cache = os.path.join(folder, MIRROR), os.path.join(folder, CACHE)
    for path in (mirror, cache):
        os.makedirs(path, exist_ok=True)
    try:
        import climetlab as cml
        from climetlab.mirrors.directory_mirror import DirectoryMirror
    except ImportError as exc:
        report["error"] = (f"climetlab cannot be imported in the run's Python environment "
                           f"({sys.prefix}): {exc}; install climetlab there")
        return 1
    with cml.settings.temporary():
        for name, value in offline_settings(folder).items():
            cml.settings.set(name, value)
        for item in items:
            before = files_under(mirror, cache)
            try:
                with DirectoryMirror(mirror).prefetch():
                    paths = source_paths(load(cml, item))
            except Exception as exc:  # noqa: BLE001 - reported with the item, then we stop
                report["error"] = f"{describe(item)}: {cause(item, exc)}"
                return 1
            after = files_under(mirror, cache)
            new = [p for p in after if before.get(p) != after[p]]
            cached = all(p in before for p in paths) if paths else not new
            report["items"].append({"item": describe(item), "size": size_of(paths or new),
                                    "cached": cached})
            note()
    return 0


def main(argv: list[str]) -> int:
    items_file, folder, report_file = argv
    with open(items_file, encoding="utf-8") as fh:
        items = json.load(fh)
    report: dict[str, Any] = {"items": [], "error": None}
    try:
        code = stage(items, folder, report,
                     os.path.join(os.path.dirname(report_file), PROGRESS))
    except OSError as exc:  # the cache folder itself: permissions, disk quota
        report["error"] = f"cache folder {folder}: {exc.strerror or exc}"
        code = 1
    write_json(report_file, report)
    if report["error"]:
        print(f"mantik: staging data failed: {report['error']}", file=sys.stderr, flush=True)
    for entry in report["items"]:
        print(f"mantik: staged {entry['item']} ({entry['size']} bytes"
              f"{', cached' if entry['cached'] else ''})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
