"""The contract of streaming into pods between the API server and node agents (`berth.api.streaming`)."""

from __future__ import annotations

from berth.api import streaming


def test_node_paths_are_the_kubelets_and_read_back():
    assert streaming.node_path("exec", "runai-team", "nb-0-0", "main") == "/exec/runai-team/nb-0-0/main"
    assert streaming.node_path("portforward", "ns", "p") == "/portForward/ns/p"
    assert streaming.parse_node_path("/attach/ns/p/c?stdin=true") == ("attach", "ns", "p", "c")
    assert streaming.parse_node_path("/portForward/ns/p") == ("portforward", "ns", "p", "")
    for wrong in ("/exec/ns/p", "/portForward/ns/p/c", "/logs/ns/p/c", "/exec//p/c", "/"):
        assert streaming.parse_node_path(wrong) is None, wrong


def test_a_nodes_endpoint_is_where_a_kubelet_publishes_its_port():
    node = {"status": {"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
                       "daemonEndpoints": streaming.daemon_endpoints(40123)}}
    assert streaming.endpoint(node) == ("10.0.0.5", 40123)
    assert streaming.endpoint({"status": {}}) is None  # a simulated node publishes none
    assert streaming.endpoint({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}}}) is None
