"""`kubectl exec`, `attach` and `port-forward` into pods that no node can serve: kubectl gets a Status that
says why (its WebSocket is refused, then its SPDY fallback, with the same reason), and `berth up`'s log
stays quiet about the upgrades it was asked for. (Streams into running pods: test_exec.py.)"""

from __future__ import annotations

from tests.apiserver.helpers import client
from tests.controllers.helpers import set_pod_phase


def test_streams_into_a_pod_no_node_serves_are_refused_with_a_reason_and_no_log_noise(bare_cluster):
    c = bare_cluster
    c.kubectl("run", "box", "--image=busybox", "--restart=Never", "--", "sleep", "600")
    c.kubectl("run", "lost", "--image=busybox", "--restart=Never", "--overrides",
              '{"spec": {"nodeName": "gone-node"}}', "--", "sleep", "600")
    with client(c) as http:
        set_pod_phase(http, "default", "box", "Running")
        set_pod_phase(http, "default", "lost", "Running")
    for args in (["exec", "box", "--", "ls"], ["attach", "box"], ["port-forward", "pod/box", ":8080"]):
        result = c.kubectl(*args, check=False, timeout=30)
        assert result.returncode != 0, args
        assert "pod box does not have a host assigned" in result.stderr, result.stderr
    lost = c.kubectl("exec", "lost", "--", "ls", check=False, timeout=30)
    assert 'pod lost is bound to node "gone-node", which does not exist' in lost.stderr, lost.stderr
    missing = c.kubectl("exec", "nosuch", "--", "ls", check=False)
    assert 'pods "nosuch" not found' in missing.stderr
    c.stop()
    log = c.output()
    assert "upgrade" not in log.lower() and "WARNING" not in log and "Traceback" not in log, log
