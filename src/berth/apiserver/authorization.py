"""Authentication and authorization of each request: the bearer token to a user (`berth.apiserver.users`), the
request to a Kubernetes verb and resource, and the verdict of `berth.authz.roles`, refused as Kubernetes
refuses (401 Unauthorized; 403 Forbidden naming the user, verb, resource, group and namespace).

The verb follows the Kubernetes API server's request info: GET of one object `get`, of a collection `list`
(`watch` with watch=true), POST `create`, PUT `update`, PATCH `patch`, DELETE `delete` (`deletecollection`
on a collection); a subresource is `<plural>/<sub>` (`pods/log`, `trainingworkloads/status`); a pod's
exec, attach and portforward WebSockets are `create` of `pods/exec` and so on (as Kubernetes 1.35 does).
`kubectl auth can-i` and `kubectl auth whoami` are answered here too, from the same table.
Nothing here reads the object: access is decided by the path alone, so label or field selectors cannot
widen it, and a body naming another namespace is refused by the API before it is stored.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from berth.apiserver import errors
from berth.apiserver.resources import Resource
from berth.authz.rbac import groups_of
from berth.authz.roles import NON_RESOURCE, User, authorize, may_get_path
from berth.apiserver.users import BOOTSTRAP, Directory

#: Anyone may ask these, with or without a token (probes and kubectl's version check).
PUBLIC = frozenset({"/version", "/healthz", "/livez", "/readyz"})
#: Single-user mode (`--insecure-http` on loopback): no token is checked and every request is the admin's.
NOBODY_CHECKED = User(BOOTSTRAP, "admin")

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def bearer(headers: Any) -> str:
    """The request's bearer token ("" when it has none)."""
    scheme, _, presented = headers.get("authorization", "").partition(" ")
    return presented.strip() if scheme.lower() == "bearer" else ""


def authenticate(directory: Directory | None, headers: Any) -> User:
    """The user presenting the request's bearer token; 401 when there is none or it is unknown or revoked.
    Without a directory (plain HTTP on loopback) everyone is the admin."""
    if directory is None:
        return NOBODY_CHECKED
    token = bearer(headers)
    user = directory.authenticate(token) if token else None
    if user is None:
        raise errors.unauthorized()
    return user


async def while_valid(directory: Directory | None, headers: Any,
                      body: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    """A watch stream that ends before its next event once the token that opened it is revoked."""
    token = bearer(headers)
    try:
        async for chunk in body:
            if directory is not None and directory.authenticate(token) is None:
                return
            yield chunk
    finally:
        await body.aclose()


def verb(method: str, named: bool, watch: bool) -> str:
    """The Kubernetes verb of an HTTP request on a resource path."""
    if method == "GET":
        return "watch" if watch else ("get" if named else "list")
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return _METHOD_VERBS.get(method, method.lower())


def check(user: User, verb_: str, resource: Resource, namespace: str | None, name: str | None,
          subresource: str = "") -> None:
    """Raise the 403 Kubernetes gives when `user` may not do this."""
    plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
    decision = authorize(user, verb_, resource.group, plural, namespace, name)
    if decision.allowed:
        return
    what = f'{resource.qualified} "{name}"' if name else resource.qualified
    message = f"{what} is forbidden: {decision.message}"
    if decision.reason:
        message += f": {decision.reason}"
    raise errors.forbidden(message, name or "", resource.group, resource.plural)


def check_path(user: User, verb_: str, path: str) -> None:
    """Raise the 403 Kubernetes gives when `user` may not `verb_` the non-resource `path` (`/metrics`)."""
    if verb_ == "get" and may_get_path(user, path):
        return
    raise errors.forbidden(f'forbidden: User "{user.name}" cannot {verb_} path "{path}": the {user.role} role may '
                           f'not {verb_} {path}')


#: Paths any authenticated user may read: discovery and OpenAPI (so kubectl works), and the public ones.
READABLE_PREFIXES = ("/api", "/apis", "/openapi", "/version", "/healthz", "/livez", "/readyz")
SSAR_PATH = ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]
SSR_PATH = ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"]


def who_am_i(user: User) -> dict[str, Any]:
    """`kubectl auth whoami`: a SelfSubjectReview with the user's name and the RBAC groups of their role."""
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": {"username": user.name, "groups": groups_of(user)}}}


def access_review(user: User, body: Any) -> dict[str, Any]:
    """`kubectl auth can-i`: a SelfSubjectAccessReview answered from the same rule table (create only)."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise errors.bad_request("a SelfSubjectAccessReview needs a spec with resourceAttributes or "
                                 "nonResourceAttributes")
    spec = body["spec"]
    attrs = spec.get("resourceAttributes")
    if isinstance(attrs, dict):
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource += "/" + attrs["subresource"]
        decision = authorize(user, attrs.get("verb", ""), attrs.get("group", ""), resource,
                             attrs.get("namespace") or None, attrs.get("name") or None)
        allowed, reason = decision.allowed, decision.reason
    else:
        path = (spec.get("nonResourceAttributes") or {}).get("path", "")
        verb_ = (spec.get("nonResourceAttributes") or {}).get("verb")
        allowed = user.role == "admin" or (verb_ == "get" and (
            may_get_path(user, path) or any(path == p or path.startswith(p + "/") for p in READABLE_PREFIXES)))
        reason = "" if allowed else f"the {user.role} role may only get discovery, /openapi, the probes" + "".join(
            f", {path}" for path, roles in NON_RESOURCE.items() if user.role in roles)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
