"""The channel protocol of `pods/exec` and `pods/attach` over a WebSocket (Kubernetes' `v5.channel.k8s.io`,
and `v4.channel.k8s.io` without its close signal): the facts both ends need, for the node that runs the
command and the `berth` CLI that drives it. Pure: no I/O.

Every WebSocket message is binary; its first byte names the channel, the rest is the data:

    0 stdin    client -> server
    1 stdout   server -> client
    2 stderr   server -> client (not used with a terminal: the terminal merges it into stdout)
    3 error    server -> client, once, at the end: a JSON `Status` (Success, or Failure with reason
               NonZeroExitCode and the exit code as the message of the cause of reason ExitCode)
    4 resize   client -> server, JSON {"Width": columns, "Height": rows}, whenever the terminal changes
  255 close    v5 only, either way: [255, channel] says that channel has ended (stdin's end of input)

The server ends the connection (a normal close) after the error channel's Status; everything sent before
it reaches the client first. kubectl 1.30 and later offer only v5 for exec and attach (client-go
remotecommand's WebSocket executor) and fall back to SPDY when the upgrade is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
#: The subprotocols a node's exec and attach speak, preferred first.
PROTOCOLS = (V5, V4)

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255

#: kubelet's reason and cause type for a command that exited non-zero.
NON_ZERO_EXIT = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


def frame(channel: int, data: bytes = b"") -> bytes:
    """One message: the channel's byte, then the data."""
    return bytes((channel,)) + data


def close_frame(channel: int) -> bytes:
    """v5's signal that `channel` has ended."""
    return bytes((CLOSE, channel))


def split(message: bytes) -> tuple[int, bytes]:
    """(channel, data) of one message; ValueError for an empty one."""
    if not message:
        raise ValueError("an empty message has no channel")
    return message[0], message[1:]


def exit_status(code: int, command: list[str] | None = None) -> dict[str, Any]:
    """The Status the error channel carries when a command has ended with `code`."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    what = f"error executing command {command}, " if command else ""
    return {"metadata": {}, "status": "Failure", "reason": NON_ZERO_EXIT,
            "message": f"command terminated with non-zero exit code: {what}exit code {code}",
            "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]}}


def failure_status(message: str, reason: str = "InternalError") -> dict[str, Any]:
    """The Status for a failure that is not the command's exit code (it could not start, or was lost)."""
    return {"metadata": {}, "status": "Failure", "reason": reason, "message": message}


def encode_status(status: dict[str, Any]) -> bytes:
    return frame(ERROR, json.dumps(status).encode())


@dataclass(frozen=True)
class Outcome:
    """What the error channel said: the exit code (0 for Success), and the message of a failure."""

    code: int
    message: str = ""


def outcome(data: bytes) -> Outcome:
    """Read the error channel's Status as kubectl does: Success is 0, NonZeroExitCode its code, any other
    failure exit code 1 with its message. Nothing at all is a success (v1-v3 servers say nothing)."""
    if not data.strip():
        return Outcome(0)
    try:
        status = json.loads(data)
    except ValueError:
        return Outcome(1, data.decode(errors="replace"))
    if not isinstance(status, dict) or status.get("status") == "Success":
        return Outcome(0)
    if status.get("reason") == NON_ZERO_EXIT:
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == EXIT_CODE_CAUSE:
                try:
                    return Outcome(int(cause.get("message")), str(status.get("message") or ""))
                except (TypeError, ValueError):
                    break
    return Outcome(1, str(status.get("message") or "the command failed"))


def resize(columns: int, rows: int) -> bytes:
    """The resize message for a terminal of `columns` x `rows`."""
    return frame(RESIZE, json.dumps({"Width": columns, "Height": rows}).encode())


def parse_resize(data: bytes) -> tuple[int, int] | None:
    """(columns, rows) from a resize message's data; None when it is not one."""
    try:
        size = json.loads(data)
        columns, rows = int(size["Width"]), int(size["Height"])
    except (ValueError, TypeError, KeyError):
        return None
    if not (0 < columns < 65536 and 0 < rows < 65536):
        return None
    return columns, rows
