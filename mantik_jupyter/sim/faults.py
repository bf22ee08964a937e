"""Fault injection per route: latency, 5xx, 429 + Retry-After, dropped connections, lost or
late replies."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field, fields


@dataclass
class FaultRule:
    """Faults for requests whose path matches ``route`` (a regex, searched) and ``methods``.

    Rates are probabilities per request. ``lost_reply_rate`` lets the request do its work
    (a job is created) and then drops the connection before the reply is sent.
    ``latency`` waits before the request does its work, ``reply_latency`` after it: the
    client waits for the answer to a request that already took effect (a slow gateway).
    """

    route: str = ""
    methods: list[str] = field(default_factory=list)
    latency: float = 0.0
    reply_latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    throttle_rate: float = 0.0
    retry_after: int = 1
    drop_rate: float = 0.0
    lost_reply_rate: float = 0.0

    def __post_init__(self) -> None:
        re.compile(self.route)
        self.methods = [m.upper() for m in self.methods]
        for name in ("error_rate", "throttle_rate", "drop_rate", "lost_reply_rate"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency < 0 or self.reply_latency < 0:
            raise ValueError("latency and reply_latency must be 0 or more seconds")
        if not 500 <= self.error_status <= 599:
            raise ValueError("error_status must be a 5xx code")

    @classmethod
    def from_dict(cls, data: dict) -> FaultRule:
        """Build from JSON, refusing unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """From the command line: ``route=/jobs,methods=POST,error_rate=0.2,latency=0.2``."""
        data: dict = {}
        for item in filter(None, text.split(",")):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault item {item!r} is not key=value")
            kind = {f.name: f.type for f in fields(cls)}.get(key, "str")
            data[key] = (value.split("+") if kind.startswith("list") else
                         int(value) if kind == "int" else
                         float(value) if kind == "float" else value)
        return cls.from_dict(data)

    def matches(self, method: str, path: str) -> bool:
        """True when this rule applies to a request."""
        wanted = not self.methods or method in self.methods
        return wanted and re.search(self.route, path) is not None


@dataclass
class Decision:
    """What to do with one request; at most one of the outcomes is set besides latency."""

    latency: float = 0.0
    reply_latency: float = 0.0
    status: int | None = None
    retry_after: int | None = None
    drop: bool = False
    lose_reply: bool = False


class Faults:
    """The active rules (changeable at run time) and counters of what was injected."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int | None = None) -> None:
        self._rules = list(rules or [])
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = {"error": 0, "throttle": 0, "drop": 0, "lost_reply": 0}

    def replace(self, rules: list[FaultRule]) -> None:
        """Swap the whole rule set (an empty list turns faults off)."""
        with self._lock:
            self._rules = list(rules)

    def snapshot(self) -> dict:
        """Rules and counters as JSON."""
        with self._lock:
            return {"rules": [asdict(r) for r in self._rules], "injected": dict(self.injected)}

    def decide(self, method: str, path: str) -> Decision:
        """Roll the dice for one request against every matching rule."""
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                decision.latency += rule.latency
                decision.reply_latency += rule.reply_latency
                if decision.status or decision.drop or decision.lose_reply:
                    continue
                if self._random.random() < rule.drop_rate:
                    decision.drop = True
                    self.injected["drop"] += 1
                elif self._random.random() < rule.throttle_rate:
                    decision.status, decision.retry_after = 429, rule.retry_after
                    self.injected["throttle"] += 1
                elif self._random.random() < rule.error_rate:
                    decision.status = rule.error_status
                    self.injected["error"] += 1
                elif self._random.random() < rule.lost_reply_rate:
                    decision.lose_reply = True
                    self.injected["lost_reply"] += 1
        return decision
