"""What the REST tests share: an HTTP client of `berth up`'s REST API as a given token (the admin's by
default), and users made with `berth user add`."""

from __future__ import annotations

import re
import ssl
import subprocess

import httpx

from tests.cluster import BIN, Cluster


def rest(cluster: Cluster, token: str | None = None, *, timeout: float = 30.0) -> httpx.Client:
    """A client of the REST API (same address as the Kubernetes API) as `token` (default: the admin's;
    "" sends no Authorization header)."""
    token = cluster.token if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=cluster.url, verify=ssl.create_default_context(cafile=str(cluster.ca)),
                        headers=headers, timeout=timeout)


def add_user(cluster: Cluster, name: str, role: str, *projects: str) -> str:
    """`berth user add` a user; returns their bearer token (read from the kubeconfig it wrote)."""
    args = [str(BIN / "berth"), "user", "add", name, "--role", role, "--data-dir", str(cluster.data_dir)]
    for project in projects:
        args += ["--project", project]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=cluster.env())
    assert done.returncode == 0, done.stderr
    kubeconfig = (cluster.data_dir / "users" / f"{name}.kubeconfig").read_text()
    match = re.search(r"token: (\S+)", kubeconfig)
    assert match, kubeconfig
    return match.group(1).strip("'\"")
