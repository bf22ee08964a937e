"""YAML a user sends (run configs, parameter values), parsed within limits.

Aliases are refused: a few hundred bytes of nested aliases expand to gigabytes (a "billion
laughs"), and a run config has no need of them. The text is capped in size and its nesting
in depth, so neither the parser nor an error message can grow without bound.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ConfigError, LimitError

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32


class _Refused(yaml.MarkedYAMLError):
    """A construct this loader does not accept, with its place in the text."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases and with a nesting limit."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(problem=f"YAML aliases (*{event.anchor}) are not accepted; write "
                                   "the value out", problem_mark=event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise LimitError(f"nested more than {MAX_DEPTH} levels deep",
                                 details={"line": self.peek_event().start_mark.line + 1})
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load(text: str, source: str) -> Any:
    """The value of a YAML text; errors name ``source``, the line and what is wrong."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise LimitError(f"{source}: {size} bytes of YAML, more than the {MAX_BYTES} accepted",
                         key=source)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except LimitError as exc:
        raise LimitError(f"{source}: {exc.message}", key=source, details=exc.details) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        kind = "refused YAML" if isinstance(exc, _Refused) else "malformed YAML"
        raise ConfigError(f"{source}: {kind}{where}: {exc.problem}", key=None,
                          details={"line": mark.line + 1 if mark else None}) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {exc}") from None
