"""What the org-unit and cluster tests share: the cluster's id and a node pool's id, as a REST client
learns them."""

from __future__ import annotations

import functools
import json
import subprocess

from tests.cluster import BIN, Cluster
from tests.rest.conftest import rest


@functools.cache
def _cluster_id(kubeconfig: str) -> str:
    done = subprocess.run([str(BIN / "kubectl"), "--kubeconfig", kubeconfig, "get", "namespace", "runai", "-o", "json"],
                          capture_output=True, text=True, check=True)
    return str(json.loads(done.stdout)["metadata"]["uid"])


def cluster_id(cluster: Cluster) -> str:
    """The cluster's id (the `runai` namespace's uid), read once per cluster."""
    return _cluster_id(str(cluster.kubeconfig))


def pool_id(cluster: Cluster, name: str) -> str:
    """A node pool's id, from the cluster's node pools as Run:ai's clients learn it."""
    with rest(cluster) as http:
        pools = http.get(f"/v1/k8s/clusters/{cluster_id(cluster)}/node-pools").json()
    return str(next(p["id"] for p in pools if p["name"] == name))
