"""Run-time controls of the simulator (``/_sim``): faults, token expiry, killing jobs, node failure.

They take the demo credentials like the gateways, so a running ``sim start`` can be driven by
tests and teachers, and they never show job environments or secrets.
"""

from __future__ import annotations

from .faults import FaultRule
from .server import SimHandler

PREFIX = "/_sim"


class AdminHandler(SimHandler):
    """Basic or Bearer, JSON ``{"message"}`` errors, never hit by the fault rules."""

    allow_basic = True
    faultable = False


class FaultsHandler(AdminHandler):
    """``/_sim/faults``: GET rules and counters, PUT ``{"rules": [...]}`` to replace them."""

    def get(self) -> None:
        """Current rules and how many faults were injected so far."""
        self.send_json(200, self.site.faults.snapshot())

    def put(self) -> None:
        """Replace every rule; 400 names a wrong key or value."""
        body = self.json_body()
        rules = body.get("rules") if isinstance(body, dict) else None
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            self.fail(400, "body.rules: a list of fault rules is required")
        try:
            self.site.faults.replace([FaultRule.from_dict(r) for r in rules])
        except (TypeError, ValueError) as exc:
            self.fail(400, f"Invalid fault rule: {exc}")
        self.send_json(200, self.site.faults.snapshot())


class ExpireTokens(AdminHandler):
    """``POST /_sim/tokens/expire``: every issued token stops working."""

    def post(self) -> None:
        """Forget all tokens."""
        self.site.auth.expire_all()
        self.no_content()


class JobsHandler(AdminHandler):
    """``GET /_sim/jobs``: every job record of both gateways (no environments)."""

    def get(self) -> None:
        """id, api, system, name, tags, state (and why), native id, working directory, and
        when the batch system started it (or, held by --begin, may start it) of each job."""
        self.site.refresh()
        self.send_json(200, {"jobs": [
            {"id": j.id, "api": j.api, "system": j.system, "name": j.name, "tags": j.tags,
             "state": j.state, "reason": j.reason, "nativeId": j.native_id,
             "workdir": j.workdir, "start": j.start, "begin": j.begin,
             "heldUntil": j.held_until}
            for j in self.site.store.all()
        ]})


class KillJob(AdminHandler):
    """``POST /_sim/jobs/{id}/kill``: SIGKILL the job from outside (it ends FAILED)."""

    def post(self, job_id: str) -> None:
        """404 for unknown or not yet submitted jobs."""
        job = self.site.find(job_id)
        if job is None or job.native_id is None:
            self.fail(404, f"No submitted job {job_id}")
        self.site.executor.kill(job.native_id)
        self.no_content()


class FailNode(AdminHandler):
    """``POST /_sim/node/fail``: running jobs end NODE_FAIL, then the node comes back."""

    def post(self) -> None:
        """Fail the node now."""
        self.site.executor.fail_node()
        self.no_content()


def routes() -> list[tuple[str, type]]:
    """URL patterns of the controls."""
    return [
        (f"{PREFIX}/faults", FaultsHandler),
        (f"{PREFIX}/tokens/expire", ExpireTokens),
        (f"{PREFIX}/jobs", JobsHandler),
        (f"{PREFIX}/jobs/([^/]+)/kill", KillJob),
        (f"{PREFIX}/node/fail", FailNode),
    ]
