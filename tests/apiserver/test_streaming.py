"""`kubectl exec`, `attach` and `port-forward` need a streaming protocol that Berth's nodes do not speak yet:
kubectl gets a Status that says so, and `berth up`'s log stays quiet about the upgrade it was asked for."""

from __future__ import annotations

from tests.apiserver.helpers import client
from tests.controllers.helpers import set_pod_phase


def test_exec_attach_and_port_forward_are_refused_with_a_reason_and_no_log_noise(bare_cluster):
    c = bare_cluster
    c.kubectl("run", "box", "--image=busybox", "--restart=Never", "--", "sleep", "600")
    with client(c) as http:
        set_pod_phase(http, "default", "box", "Running")
    for args in (["exec", "box", "--", "ls"], ["attach", "box"], ["port-forward", "pod/box", ":8080"]):
        result = c.kubectl(*args, check=False, timeout=30)
        assert result.returncode != 0, args
        assert f"kubectl {args[0]} is not supported" in result.stderr, result.stderr
        assert "kubectl logs" in result.stderr, result.stderr
    missing = c.kubectl("exec", "nosuch", "--", "ls", check=False)
    assert 'pods "nosuch" not found' in missing.stderr
    c.stop()
    log = c.output()
    assert "upgrade" not in log.lower() and "WARNING" not in log, log
