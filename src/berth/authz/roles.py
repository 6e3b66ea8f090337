"""Berth's roles and the one rule table every verdict comes from.

Three roles, each standing for one of Run:ai's predefined roles:

  admin       Run:ai's *System administrator*: everything, everywhere (the bootstrap token of `berth up`,
              which the controllers, scheduler and nodes use, is an admin).
  researcher  Run:ai's *L1 researcher*: creates, changes and deletes workloads, reads their pods, logs and
              events and execs into them, in the projects they are assigned to; reads policies, projects,
              node pools and nodes. Everything else is refused.
  viewer      Run:ai's *Viewer*: reads everything in every project, except secrets; writes nothing.

Policies, projects, departments, node pools, nodes (writes) and users are admin-only.

A rule is Kubernetes-shaped (API groups, resources with `pods/log`-style subresources, verbs) plus a scope:
`cluster` rules hold in every namespace and for cluster-scoped resources; `project` rules hold only in the
namespaces of the user's projects (`runai-<project>`). `authorize` is pure: data in, a `Decision` out;
the API server (`berth.apiserver.app`) asks it for every request, and `berth.authz.rbac` prints the same
table as ClusterRoles and RoleBindings, so a real cluster gives the same verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from berth.api.projects import namespace_of_project

ROLES = ("admin", "researcher", "viewer")
#: The Run:ai predefined role each Berth role stands for.
RUNAI_ROLE = {"admin": "System administrator", "researcher": "L1 researcher", "viewer": "Viewer"}

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
RUNAI = "run.ai"
WORKLOADS = ("trainingworkloads", "interactiveworkloads", "distributedworkloads", "inferenceworkloads")
POLICIES = ("trainingpolicies", "interactivepolicies", "distributedpolicies", "inferencepolicies")
#: Streaming subresources of a pod (WebSockets); Kubernetes authorizes them as `create` (and, before 1.35,
#: as `get` for the WebSocket upgrade), so both are granted where they are granted at all.
POD_STREAMS = ("pods/exec", "pods/attach", "pods/portforward")

Scope = Literal["cluster", "project"]


@dataclass(frozen=True)
class Rule:
    """Verbs on resources of API groups, in a scope. `*` matches anything in each list."""

    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    scope: Scope = "cluster"

    def matches(self, verb: str, group: str, resource: str) -> bool:
        return ((verb in self.verbs or "*" in self.verbs) and (group in self.groups or "*" in self.groups)
                and (resource in self.resources or "*" in self.resources))


#: Everything a viewer reads: every served resource but secrets (users are not served as objects).
VIEWABLE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("namespaces", "nodes", "pods", "pods/log", "services", "persistentvolumeclaims", "configmaps",
          "events", "serviceaccounts")),
    ("coordination.k8s.io", ("leases",)),
    ("apiextensions.k8s.io", ("customresourcedefinitions",)),
    (RUNAI, (*WORKLOADS, *POLICIES, "projects", "departments", "nodepools")),
    ("scheduling.run.ai", ("podgroups",)),
)

#: The rule table: what each role may do. The single source of truth for the API server and `berth rbac`.
RULES: dict[str, tuple[Rule, ...]] = {
    "admin": (Rule(("*",), ("*",), ("*",)),),
    "researcher": (
        Rule((RUNAI,), WORKLOADS, READ + WRITE, "project"),
        Rule(("",), ("pods", "pods/log", "events", "services"), READ, "project"),
        Rule(("scheduling.run.ai",), ("podgroups",), READ, "project"),
        Rule(("",), POD_STREAMS, ("get", "create"), "project"),
        Rule((RUNAI,), (*POLICIES, "projects", "nodepools"), READ),
        Rule(("",), ("nodes",), READ),
    ),
    "viewer": tuple(Rule((group,), resources, READ) for group, resources in VIEWABLE),
}

#: Non-resource paths besides discovery, OpenAPI and the probes (which every authenticated user reads), and the
#: roles that may `get` them: Kubernetes' `nonResourceURLs` rules. `/metrics` tells every project's quota, usage
#: and pending work and the whole cluster's request traffic, so it goes to the roles that see the whole
#: cluster (admin, viewer), not to researchers, who see their own projects only.
NON_RESOURCE: dict[str, tuple[str, ...]] = {"/metrics": ("admin", "viewer")}

@dataclass(frozen=True)
class User:
    """Someone the API server knows by a token: a name, one role, and (researchers) their projects."""

    name: str
    role: str
    projects: tuple[str, ...] = ()

    def namespaces(self) -> frozenset[str]:
        """The namespaces of the user's projects, by Run:ai's convention `runai-<project>`."""
        return frozenset(namespace_of_project(p) for p in self.projects)


@dataclass(frozen=True)
class Request:
    """What a request asks: a verb on a resource (`pods/log` for a subresource) of an API group, in a
    namespace (None: cluster-scoped, or all namespaces), on a named object (None: the collection)."""

    verb: str
    group: str
    resource: str
    namespace: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Kubernetes' words for a refusal: `User "alice" cannot list resource "pods" in API group "" in the
    #: namespace "runai-team-b"`; empty when allowed.
    message: str = ""
    #: Why, in Berth's words (which namespaces the user reaches, or that the role never may).
    reason: str = ""
    #: The permission that was missing, as a (verb, resource, group, namespace) tuple.
    missing: tuple[str, str, str, str | None] | None = field(default=None)


def allows(user: User, req: Request) -> bool:
    for rule in RULES.get(user.role, ()):
        if not rule.matches(req.verb, req.group, req.resource):
            continue
        if rule.scope == "cluster" or (req.namespace is not None and req.namespace in user.namespaces()):
            return True
    return False


def authorize(user: User, verb: str, group: str, resource: str, namespace: str | None = None,
              name: str | None = None) -> Decision:
    """May `user` do `verb` on `resource` (of API `group`) in `namespace`? Default deny."""
    req = Request(verb, group, resource, namespace, name)
    if allows(user, req):
        return Decision(True)
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = f'User "{user.name}" cannot {verb} resource "{resource}" in API group "{group}" {where}'
    return Decision(False, message, _reason(user, req), (verb, resource, group, namespace))


def may_get_path(user: User, path: str) -> bool:
    """May `user` get the non-resource `path` of `NON_RESOURCE`? Default deny."""
    return user.role in NON_RESOURCE.get(path, ())


def _reason(user: User, req: Request) -> str:
    """Which rule would have allowed it, in a user's words."""
    if user.role not in RULES:
        return f'unknown role "{user.role}"'
    anywhere = any(r.matches(req.verb, req.group, req.resource) for r in RULES[user.role])
    if not anywhere:
        return f"the {user.role} role may not {req.verb} {req.resource}"
    if not user.projects:
        return f"{user.role} {user.name} is assigned to no project"
    reach = ", ".join(sorted(user.namespaces()))
    if req.namespace is None:
        return f"{user.role} {user.name} may {req.verb} {req.resource} only in their projects' namespaces ({reach})"
    return f"{user.role} {user.name} may {req.verb} {req.resource} only in {reach}"
