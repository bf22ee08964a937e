"""``python -m mantik_jupyter.sim start|stop``: the ``sim`` command without the main CLI."""

from __future__ import annotations

import argparse
import sys

from .cli import register


def main(argv: list[str] | None = None) -> int:
    """Parse ``start``/``stop`` arguments and run the command."""
    parser = argparse.ArgumentParser(prog="python -m mantik_jupyter.sim")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
