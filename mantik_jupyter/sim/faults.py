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

    Rates are probabilities per request (1.0: every request; below 1 a seeded random draw).
    ``first`` (N > 0) limits the rule to the first N matching requests, ``every`` (K > 0) to
    every Kth (the Kth, 2Kth, ...): with rates of 1.0 a fault is exactly reproducible, which
    is what tests assert on. ``lost_reply_rate`` lets the request do its work (a job is
    created) and then drops the connection before the reply is sent. ``latency`` waits
    before the request does its work, ``reply_latency`` after it: the client waits for the
    answer to a request that already took effect (a slow gateway). ``bandwidth`` (bytes per
    second, 0: unlimited) is how fast an upload's body is read on routes that stream it
    (UNICORE files, the object store): a slow link, so uploads take seconds.
    """

    route: str = ""
    methods: list[str] = field(default_factory=list)
    latency: float = 0.0
    reply_latency: float = 0.0
    bandwidth: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    throttle_rate: float = 0.0
    retry_after: int = 1
    drop_rate: float = 0.0
    lost_reply_rate: float = 0.0
    first: int = 0
    every: int = 0

    def __post_init__(self) -> None:
        re.compile(self.route)
        self.methods = [m.upper() for m in self.methods]
        for name in ("error_rate", "throttle_rate", "drop_rate", "lost_reply_rate"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency < 0 or self.reply_latency < 0:
            raise ValueError("latency and reply_latency must be 0 or more seconds")
        if self.bandwidth < 0:
            raise ValueError("bandwidth must be 0 (unlimited) or more bytes per second")
        for name in ("first", "every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of requests (0: off), "
                                 f"not {value!r}")
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
        """True when this rule's route and methods fit a request."""
        wanted = not self.methods or method in self.methods
        return wanted and re.search(self.route, path) is not None

    def selects(self, number: int) -> bool:
        """True when the ``number``th (from 1) matching request falls under ``first``/``every``."""
        within_first = not self.first or number <= self.first
        return within_first and (not self.every or number % self.every == 0)


@dataclass
class Decision:
    """What to do with one request; at most one of the outcomes is set besides latency."""

    latency: float = 0.0
    reply_latency: float = 0.0
    bandwidth: float = 0.0  # the slowest matching rule's (0: unlimited)
    status: int | None = None
    retry_after: int | None = None
    drop: bool = False
    lose_reply: bool = False


class Faults:
    """The active rules (changeable at run time) and counters of what was injected."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int | None = None) -> None:
        self._rules = list(rules or [])
        self._matched = [0] * len(self._rules)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = {"error": 0, "throttle": 0, "drop": 0, "lost_reply": 0}

    def replace(self, rules: list[FaultRule]) -> None:
        """Swap the whole rule set (an empty list turns faults off)."""
        with self._lock:
            self._rules = list(rules)
            self._matched = [0] * len(self._rules)

    def snapshot(self) -> dict:
        """Rules (as PUT takes them), requests each rule matched so far, and what was injected."""
        with self._lock:
            return {"rules": [asdict(r) for r in self._rules], "matched": list(self._matched),
                    "injected": dict(self.injected)}

    def decide(self, method: str, path: str) -> Decision:
        """Apply every matching rule to one request (counted per rule, rates drawn when < 1)."""
        decision = Decision()
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path):
                    continue
                self._matched[index] += 1
                if not rule.selects(self._matched[index]):
                    continue
                decision.latency += rule.latency
                decision.reply_latency += rule.reply_latency
                if rule.bandwidth:
                    decision.bandwidth = min(decision.bandwidth or rule.bandwidth,
                                             rule.bandwidth)
                if decision.status or decision.drop or decision.lose_reply:
                    continue
                if self._hit(rule.drop_rate):
                    decision.drop = True
                    self.injected["drop"] += 1
                elif self._hit(rule.throttle_rate):
                    decision.status, decision.retry_after = 429, rule.retry_after
                    self.injected["throttle"] += 1
                elif self._hit(rule.error_rate):
                    decision.status = rule.error_status
                    self.injected["error"] += 1
                elif self._hit(rule.lost_reply_rate):
                    decision.lose_reply = True
                    self.injected["lost_reply"] += 1
        return decision

    def _hit(self, rate: float) -> bool:
        """Whether a fault of this rate strikes: 0 and 1 without a draw, so they stay exact."""
        return rate >= 1.0 or (rate > 0.0 and self._random.random() < rate)
