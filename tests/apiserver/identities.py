"""Several clients of one `berth up`, each with a token of its own, for the tests of per-client limits and
of the audit log.

Each client is an admin user (`berth user add`, `berth.apiserver.users`) with a token of its own, over
HTTPS, and the server names it by the user's name in its 429s and the audit log.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx

from berth.apiserver import users
from tests.cluster import Cluster, make_cluster


def start(tmp: Path, *args: str) -> Cluster:
    """A started `berth up` without components, with `args`, on which `token` makes clients."""
    flags = ("--no-controllers", "--no-scheduler", "--no-local-node", *args)
    c = make_cluster(tmp)
    c.args = flags
    c.start()
    return c


def token(cluster: Cluster, name: str) -> str:
    """The token of client `name` (a user added on first use)."""
    known = getattr(cluster, "_tokens", {})
    if name not in known:
        known[name] = users.add(cluster.data_dir, name, "admin", ())
        cluster._tokens = known  # type: ignore[attr-defined]
    return known[name]


def named(cluster: Cluster, name: str) -> str:
    """What the server calls client `name` in its 429s and the audit log (never the raw token)."""
    token(cluster, name)
    return name


def client(cluster: Cluster, name: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Client:
    """An HTTP client of the server as client `name`."""
    verify = ssl.create_default_context(cafile=str(cluster.ca)) if cluster.url.startswith("https") else True
    return httpx.Client(base_url=cluster.url, verify=verify,
                        headers={"Authorization": f"Bearer {token(cluster, name)}", **(headers or {})}, **kw)


def kubeconfig(cluster: Cluster, name: str, path: Path) -> Path:
    """A kubeconfig for client `name`, written to `path`."""
    ca = f", certificate-authority: '{cluster.ca}'" if cluster.url.startswith("https") else ""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{cluster.url}'{ca}}}}}]\n"
        f"users: [{{name: u, user: {{token: '{token(cluster, name)}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    return path
