"""A real IPython kernel driven through jupyter_client, the way a frontend drives it."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import BlockingKernelClient, KernelManager

# Variables that would make the kernel think a server or a job started it.
FOREIGN_ENV = ("MANTIK_JUPYTER_URL", "MANTIK_JUPYTER_TOKEN", "MANTIK_RUN_ID", "MANTIK_SITE",
               "MLFLOW_TRACKING_URI", "JPY_SESSION_NAME")


def kernel_env(home: Path, tracking_uri: str) -> dict[str, str]:
    """This process's environment for a kernel using ``home`` and the MLflow store at
    ``tracking_uri``, nothing inherited from a server or a job."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env["MANTIK_JUPYTER_HOME"] = str(home)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


@dataclass
class Result:
    """What one execute request produced."""

    status: str
    messages: list[dict] = field(default_factory=list)

    def text(self, name: str) -> str:
        """Everything written to the stream ``stdout`` or ``stderr``."""
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == name)

    @property
    def stdout(self) -> str:
        return self.text("stdout")

    @property
    def stderr(self) -> str:
        return self.text("stderr")

    @property
    def value(self) -> str:
        """The text/plain of the cell's result (its ``Out``)."""
        return "".join(m["content"]["data"].get("text/plain", "") for m in self.messages
                       if m["msg_type"] == "execute_result")

    @property
    def tracebacks(self) -> list[str]:
        return ["\n".join(m["content"]["traceback"]) for m in self.messages
                if m["msg_type"] == "error"]


class Kernel:
    """A python3 kernel started in ``cwd`` with ``env``; ``run`` executes a cell."""

    def __init__(self, client: BlockingKernelClient, manager: KernelManager | None = None):
        self.client = client
        self.manager = manager
        self.later: list[dict] = []  # messages that arrived after their cell ended

    @classmethod
    def start(cls, cwd: Path, env: dict[str, str]) -> Kernel:
        manager = KernelManager(kernel_name="python3")
        manager.start_kernel(cwd=str(cwd), env=env)
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=180)
        return cls(client, manager)

    def run(
        self,
        code: str,
        timeout: float = 180,
        on_message: Callable[[dict], None] | None = None,
    ) -> Result:
        """Execute ``code``; ``on_message`` sees each output message as it arrives."""
        msg_id = self.client.execute(code)
        messages = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"cell did not finish in {timeout} s: {code!r}"
            try:
                msg = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                self.later.append(msg)
                continue
            if msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    break
                continue
            messages.append(msg)
            if on_message:
                on_message(msg)
        while True:  # skip replies to earlier requests (wait_for_ready's kernel_info)
            reply = self.client.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                return Result(reply["content"]["status"], messages)

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 120) -> dict:
        """The first message, from now or already seen after its cell, matching ``predicate``."""
        for msg in self.later:
            if predicate(msg):
                return msg
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no matching message arrived"
            try:
                msg = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            self.later.append(msg)
            if predicate(msg):
                return msg

    def comm_send(self, comm_id: str, data: dict) -> None:
        """Send a comm message to the kernel, as a frontend does for widget events."""
        self.client.shell_channel.send(
            self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))

    def shutdown(self) -> None:
        self.client.stop_channels()
        if self.manager is not None:
            self.manager.shutdown_kernel(now=True)
