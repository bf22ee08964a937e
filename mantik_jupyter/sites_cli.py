"""``mantik-jupyter sites list|add|remove|test|credentials``: the site catalog from a shell.

Secrets are read from standard input (or a hidden prompt), never from the command line,
where other users could see them in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from .errors import MantikError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sites`` command and its sub-commands to a CLI."""
    sites = subparsers.add_parser("sites", help="list, add, remove and test sites")
    sub = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION")

    p = sub.add_parser("list", help="every site: presets, admin sites and your profiles")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("add", help="add your own site profile (no secret goes into it)")
    p.add_argument("name")
    p.add_argument("--base", metavar="SITE", help="start from another site's settings "
                   "(e.g. juwels or daint) and change only what you give")
    p.add_argument("--kind", choices=("unicore", "firecrest"))
    p.add_argument("--title")
    p.add_argument("--url", help="UNICORE REST base (.../SITE/rest/core) or FirecREST API URL")
    p.add_argument("--token-url", help="FirecREST: OIDC token endpoint")
    p.add_argument("--machine", help="FirecREST: system name (daint, eiger, ...)")
    p.add_argument("--auth", choices=("password", "token", "client-credentials"))
    p.add_argument("--username", help="UNICORE: login name for password authentication")
    p.add_argument("--client-id", help="FirecREST: OIDC client id")
    p.add_argument("--credentials", dest="source", metavar="SOURCE",
                   help="where the secret is: secrets-file (default), env, token-file, "
                        "token-command, jupyterhub, keyring")
    p.add_argument("--variable", help="environment variable (env, jupyterhub)")
    p.add_argument("--path", help="token file (token-file)")
    p.add_argument("--command", dest="token_command", help="token command (token-command)")
    p.add_argument("--queue", action="append", dest="queues", help="a queue of the site "
                   "(repeat; submissions to other queues are refused)")
    p.add_argument("--work-root", help="FirecREST: absolute folder for run directories")
    p.add_argument("--python", dest="python_env", help="default Python venv on the site")
    p.add_argument("--offline-tracking", action="store_true", default=None,
                   help="compute nodes without network: jobs track to a file store in their "
                        "run directory, imported into your MLflow when they end")
    p.add_argument("--secret-stdin", action="store_true",
                   help="read the password, client secret or token from standard input")
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


def _profile(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {"name": args.name}
    for key in ("kind", "title", "url", "token_url", "machine", "auth", "username",
                "client_id", "queues", "work_root", "offline_tracking"):
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    if args.source:
        ref = {"source": args.source, "variable": args.variable, "path": args.path,
               "command": args.token_command}
        data["credentials"] = {k: v for k, v in ref.items() if v is not None}
    if args.python_env:
        data["environment"] = {"Python": args.python_env}
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
