"""``mantik-jupyter sites list|add|remove|test|credentials``: the site catalog from a shell.

The flags of ``sites add`` are made from the profile schema, so a backend or credential
source that adds profile keys adds their flags too. Secrets are read from standard input
(or a hidden prompt), never from the command line, where other users could see them in
the process list.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from .errors import MantikError
from .sites import profile_schema

#: Where the profile flags' values go in the parsed arguments (``profile:credentials.path``).
PROFILE_DEST = "profile:"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sites`` command and its sub-commands to a CLI."""
    sites = subparsers.add_parser("sites", help="list, add, remove and test sites")
    sub = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION",
                               parser_class=LateFlagsParser)

    p = sub.add_parser("list", help="every site: presets, admin sites and your profiles")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("add", help="add your own site profile (no secret goes into it); "
                       "the flags come from the installed backends' profile keys")
    p.add_argument("name")
    p.add_argument("--base", metavar="SITE", help="start from another site's settings "
                   "(e.g. juwels or daint) and change only what you give")
    p.add_argument("--python", dest="python_env", help="default Python venv on the site")
    p.add_argument("--secret-stdin", action="store_true",
                   help="read the password, client secret or token from standard input")
    p.late_flags = lambda parser: add_profile_flags(parser, profile_schema())
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("credentials", help="store a site's secret (read from standard input "
                       "or a hidden prompt) where its profile says")
    p.add_argument("name")
    p.set_defaults(func=cmd_credentials)

    p = sub.add_parser("remove", help="remove one of your site profiles")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("test", help="check that a site answers and its credentials work")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_test)


def _service() -> Any:
    from .service import RunService

    return RunService()


def cmd_list(args: argparse.Namespace) -> int:
    catalog = _service().catalog
    rows = [{**site.to_dict(), "has_credentials": catalog.has_credentials(site.name)}
            for site in catalog.all()]
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    print(f"{'NAME':16}  {'KIND':9}  {'ORIGIN':6}  {'SECRET':6}  WHERE")
    for row in rows:
        where = row["settings"].get("url", "this machine")
        secret = "yes" if row["has_credentials"] else "-"
        print(f"{row['name']:16}  {row['kind']:9}  {row['origin']:6}  {secret:6}  {where}")
    return 0


class LateFlagsParser(argparse.ArgumentParser):
    """A sub-command parser that adds ``late_flags`` when it is used, not when the CLI is
    built: the profile flags load every backend, which other commands need not wait for."""

    late_flags: Callable[[argparse.ArgumentParser], None] | None = None

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self.late_flags is not None:
            add, self.late_flags = self.late_flags, None
            add(self)
        return super().parse_known_args(args, namespace)


def add_profile_flags(parser: argparse.ArgumentParser, schema: dict[str, Any]) -> None:
    """One flag per profile key of ``schema`` (the name is the positional argument).

    A key's flag is ``--key-name``; a list's is singular and repeats (``--queue``); a
    mapping with keys (``credentials``) gives its tag key the mapping's name and its other
    keys their own; a mapping without keys takes JSON. A flag whose name is taken is
    prefixed with its mapping's name (or ``profile``).
    """
    for key, prop in schema["properties"].items():
        if key == "name":
            continue
        if prop.get("type") == "object" and "properties" in prop:
            tag = (prop.get("required") or [None])[0]
            for sub, sub_prop in prop["properties"].items():
                flag = key if sub == tag else sub
                _add_flag(parser, flag, f"{key}.{sub}", sub_prop, prefix=key)
        else:
            _add_flag(parser, key, key, prop, prefix="profile")


def _add_flag(parser: argparse.ArgumentParser, name: str, key: str, prop: dict[str, Any],
              prefix: str) -> None:
    if prop.get("type") == "array" and name.endswith("s"):
        name = name[:-1]
    options: dict[str, Any] = {"dest": PROFILE_DEST + key, "help": prop.get("description")}
    if "enum" in prop:
        options["choices"] = prop["enum"]
    elif prop.get("type") == "boolean":
        options.update(action=argparse.BooleanOptionalAction, default=None)
    elif prop.get("type") == "array":
        options.update(action="append", metavar=name.upper())
    elif prop.get("type") == "object":
        options.update(type=_json_object, metavar="JSON")
    elif prop.get("type") == "integer":
        options.update(type=int, metavar=name.upper())
    else:
        options["metavar"] = name.upper()
    try:
        parser.add_argument("--" + name.replace("_", "-"), **options)
    except argparse.ArgumentError:  # the name is taken
        parser.add_argument(f"--{prefix}-{name}".replace("_", "-"), **options)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object ({...})")
    return value


def _profile(args: argparse.Namespace) -> dict[str, Any]:
    """The profile the flags give (nested keys such as ``credentials.source`` unflattened)."""
    data: dict[str, Any] = {"name": args.name}
    for dest, value in vars(args).items():
        if not dest.startswith(PROFILE_DEST) or value is None:
            continue
        *parents, last = dest[len(PROFILE_DEST):].split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    if args.python_env:
        data["environment"] = {**data.get("environment", {}), "Python": args.python_env}
    return data


def _read_secret(name: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"secret for site {name}: ")
    return sys.stdin.readline().rstrip("\n")


def cmd_add(args: argparse.Namespace) -> int:
    catalog = _service().catalog
    site = catalog.add(_profile(args), base=args.base)
    if args.secret_stdin:
        try:
            catalog.set_credentials(site.name, _read_secret(site.name))
        except MantikError:
            catalog.remove(site.name)
            raise
    print(f"added site {site.name} ({site.kind})")
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    _service().catalog.set_credentials(args.name, _read_secret(args.name))
    print(f"stored the secret of site {args.name}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    _service().catalog.remove(args.name)
    print(f"removed site {args.name}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    result = _service().check_site(args.name)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(f"{args.name}: {'ok' if result['ok'] else 'FAILED'}: {result['message']}")
    return 0 if result["ok"] else 1
