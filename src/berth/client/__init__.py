"""berth.client: the one Kubernetes client of every Berth component (controllers, scheduler, node agents,
CLI, web UI), so the same code runs against `berth up` and a real cluster.

Objects are plain dicts, exactly as the API sends them (JSON); nothing here models kinds beyond their names
and URLs (`kinds`). It wraps lightkube's AsyncClient for configuration, auth, TLS and the connection, in
`_wire` only: no other module of Berth imports lightkube, and no lightkube type or exception crosses this
package's interface.

    client = Client.from_kubeconfig()            # or Client.in_cluster(), Client.from_env()
    tw = await client.get("TrainingWorkload", "job-1", "runai-team-a")
    await client.list("pods", labels="app=x")    # every namespace; paged under the hood
    await client.create(obj) / replace(obj) / update_status(obj)
    await client.patch("tw", "job-1", {"spec": ...}, "runai-team-a", type="merge"|"json"|"strategic")
    await client.apply(obj, field_manager="berth-controller", force=False)
    await client.delete("tw", "job-1", "runai-team-a", propagation="Background")
    await client.wait("tw", "job-1", "runai-team-a", until=lambda o: o is None, timeout=30)
    await client.bind(namespace, pod, node); await client.create_event(obj, "Scheduled", "...")
    async for chunk in client.logs(namespace, pod, follow=True): ...   # pods/log, kubectl logs' options
    await client.version()                       # the server's /version
    async for event_type, obj in client.watch("tw", resource_version=rv): ...

    async with Informer(client, "Pod", handlers=[on_change]) as pods:
        pods.cache[(namespace, name)]

Errors (`berth.client.errors`): `ApiError` carrying the server's Status, subclassed by reason
(`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Gone`, ...); `Unreachable` when there is no answer;
`UnknownKind`, `ConfigError`. Method-level conventions are in `berth.client.client`, the informer's loop
in `berth.client.informer`.
"""

from berth.client.client import Client, ObjectList
from berth.client.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    ClientError,
    ConfigError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Unauthorized,
    UnknownKind,
    Unreachable,
    UnsupportedMediaType,
)
from berth.client.informer import Change, Informer, key_of
from berth.client.kinds import ResourceKind, resolve

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Change",
    "Client",
    "ClientError",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "Gone",
    "Informer",
    "Invalid",
    "NotFound",
    "ObjectList",
    "ResourceKind",
    "Unauthorized",
    "UnknownKind",
    "Unreachable",
    "UnsupportedMediaType",
    "key_of",
    "resolve",
]
