"""Several clients of one `berth up`, each with a token of its own, for the tests of per-client limits and
of the audit log.

Where Berth has users (`berth.authz.users`: `berth user add`), each client is an admin user with a token of
its own, over HTTPS, and the server names it by the user's name. Without users, `berth up --insecure-http`
accepts any bearer token, and the server names a client by its token's sha256. Either way, the tests
below play distinct clients with distinct tokens and check what the server calls them.
"""

from __future__ import annotations

import importlib.util
import ssl
from pathlib import Path
from typing import Any

import httpx

from berth.apiserver.limits import token_id
from tests.cluster import Cluster, free_port, make_cluster

HAVE_USERS = importlib.util.find_spec("berth.authz") is not None  # its `users` module


def start(tmp: Path, *args: str) -> Cluster:
    """A started `berth up` without components, with `args`, on which `token` makes clients."""
    flags = ("--no-controllers", "--no-scheduler", "--no-local-node", *args)
    if HAVE_USERS:
        c = make_cluster(tmp)
        c.args = flags
    else:
        (tmp / "home").mkdir(parents=True, exist_ok=True)
        c = Cluster(url=f"http://127.0.0.1:{free_port()}", data_dir=tmp / "berth",
                    kubeconfig=tmp / "berth" / "kubeconfig", home=tmp / "home", args=("--insecure-http", *flags))
    c.start()
    return c


def token(cluster: Cluster, name: str) -> str:
    """The token of client `name` (a user added on first use, where Berth has users)."""
    if not HAVE_USERS:
        return name
    from berth.authz import users

    known = getattr(cluster, "_tokens", {})
    if name not in known:
        known[name] = users.add(cluster.data_dir, name, "admin", ())
        cluster._tokens = known  # type: ignore[attr-defined]
    return known[name]


def named(cluster: Cluster, name: str) -> str:
    """What the server calls client `name` in its 429s and the audit log (never the raw token)."""
    return name if HAVE_USERS else token_id(token(cluster, name))


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
