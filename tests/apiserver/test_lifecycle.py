"""`berth up` starts, announces where it is, stops cleanly on SIGTERM and Ctrl-C, and keeps its state."""

from __future__ import annotations

import json
import signal

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_and_state_survives_a_restart(fresh_cluster, sig):
    c = fresh_cluster
    c.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {a: b}\n")
    before = json.loads(c.kubectl("get", "cm", "kept", "-o", "json").stdout)["metadata"]["resourceVersion"]
    process = c.process
    c.stop(sig)
    assert process.returncode == 0
    c.start()
    obj = json.loads(c.kubectl("get", "cm", "kept", "-o", "json").stdout)
    assert obj["data"] == {"a": "b"}
    c.kubectl("annotate", "cm", "kept", "x=y")
    after = json.loads(c.kubectl("get", "cm", "kept", "-o", "json").stdout)["metadata"]["resourceVersion"]
    assert int(after) > int(before)


def test_announces_its_url_and_kubeconfig(fresh_cluster):
    c = fresh_cluster
    c.stop()
    out = c.output()
    assert f"Berth API server on {c.url}" in out
    assert f"kubeconfig: {c.kubeconfig}" in out
    assert f"web UI: {c.url}/ui/ (log in with a user's token" in out


def test_bootstrap_namespaces_exist(cluster):
    names = cluster.kubectl("get", "ns", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/runai"} <= set(names)
