"""The channel protocol of exec and attach (`berth.client.channels`): what the node writes on the error
channel is what the CLI reads as an exit status, and the other messages round-trip."""

from __future__ import annotations

import json

from berth.client import channels


def test_an_exit_code_goes_through_the_error_channel_as_kubelet_writes_it():
    assert channels.outcome(json.dumps(channels.exit_status(0)).encode()) == channels.Outcome(0)
    status = channels.exit_status(3, ["sh", "-c", "exit 3"])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert channels.outcome(json.dumps(status).encode()).code == 3
    message = channels.encode_status(status)
    assert channels.split(message)[0] == channels.ERROR


def test_other_failures_are_exit_status_1_with_their_message():
    failed = channels.outcome(json.dumps(channels.failure_status("container x is not valid")).encode())
    assert failed == channels.Outcome(1, "container x is not valid")
    assert channels.outcome(b"") == channels.Outcome(0)  # v1-v3 servers say nothing on success
    assert channels.outcome(b"not json").code == 1


def test_resize_and_close_messages():
    channel, data = channels.split(channels.resize(120, 40))
    assert channel == channels.RESIZE and channels.parse_resize(data) == (120, 40)
    assert channels.parse_resize(b'{"Width": 0, "Height": 10}') is None
    assert channels.parse_resize(b"{}") is None
    assert channels.close_frame(channels.STDIN) == bytes((255, 0))
