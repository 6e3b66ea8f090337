"""The rule table of `berth.authz.roles` as Kubernetes RBAC objects, for running Berth's kinds on a real
cluster (what `berth rbac` prints).

Each role becomes ClusterRoles: `berth-<role>` holds its rules (for a researcher, only the rules that hold in
their projects' namespaces), and `berth-researcher-cluster` the researcher's rules that hold everywhere
(reading policies, projects, node pools and nodes). Bindings decide where:

  ClusterRoleBinding berth-admins       ClusterRole berth-admin               Group berth:admins
  ClusterRoleBinding berth-viewers      ClusterRole berth-viewer              Group berth:viewers
  ClusterRoleBinding berth-researchers  ClusterRole berth-researcher-cluster  Group berth:researchers
  RoleBinding berth-researchers in runai-<project>, ClusterRole berth-researcher, Group berth:project:<project>

so an identity provider that puts people into these groups gives them Berth's verdicts; users known to a
`berth up` (its users file) are added by name as User subjects of the same bindings. A ClusterRole bound by
a RoleBinding grants its rules in that one namespace only, which is exactly a `project` rule's scope.
Discovery and /openapi come from Kubernetes' own `system:discovery` binding and are not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from berth.api.projects import namespace_of_project
from berth.authz.roles import NON_RESOURCE, RULES, RUNAI_ROLE, Rule, User

RBAC = "rbac.authorization.k8s.io/v1"
LABELS = {"app.kubernetes.io/managed-by": "berth"}
#: The ClusterRole a role's rules of one scope go into (None: the role has no rules of that scope).
CLUSTER_ROLE = {("admin", "cluster"): "berth-admin", ("viewer", "cluster"): "berth-viewer",
                ("researcher", "project"): "berth-researcher", ("researcher", "cluster"): "berth-researcher-cluster"}
#: The group whose members hold a role cluster-wide.
GROUP = {"admin": "berth:admins", "viewer": "berth:viewers", "researcher": "berth:researchers"}


def project_group(project: str) -> str:
    """The group of a project's researchers."""
    return f"berth:project:{project}"


def groups_of(user: User) -> list[str]:
    """The groups whose bindings give `user` their verdicts on a real cluster (what `kubectl auth whoami` shows)."""
    return [GROUP[user.role], *(project_group(p) for p in user.projects), "system:authenticated"]


def _rule(rule: Rule) -> dict[str, Any]:
    return {"apiGroups": list(rule.groups), "resources": list(rule.resources), "verbs": list(rule.verbs)}


def cluster_roles() -> list[dict[str, Any]]:
    """One ClusterRole per (role, scope) that has rules."""
    out = []
    for (role, scope), name in CLUSTER_ROLE.items():
        rules = [_rule(r) for r in RULES[role] if r.scope == scope]
        paths = sorted(path for path, roles in NON_RESOURCE.items() if role in roles)
        if scope == "cluster" and paths:  # a `*` resource rule does not cover paths: they are named apart
            rules.append({"nonResourceURLs": paths, "verbs": ["get"]})
        out.append({
            "apiVersion": RBAC, "kind": "ClusterRole",
            "metadata": {"name": name, "labels": LABELS,
                         "annotations": {"berth.run.ai/role": role, "berth.run.ai/scope": scope,
                                         "berth.run.ai/runai-role": RUNAI_ROLE[role]}},
            "rules": rules,
        })
    return out


def _subjects(group: str, users: Iterable[str]) -> list[dict[str, str]]:
    subjects = [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group}]
    subjects += [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": u} for u in sorted(set(users))]
    return subjects


def _role_ref(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}


def bindings(projects: Iterable[str], users: Iterable[User] = ()) -> list[dict[str, Any]]:
    """ClusterRoleBindings for the cluster-wide grants, and a RoleBinding in each project's namespace."""
    users = list(users)
    by_role = {role: [u.name for u in users if u.role == role] for role in GROUP}
    out: list[dict[str, Any]] = []
    for role, cluster_role in (("admin", "berth-admin"), ("viewer", "berth-viewer"),
                               ("researcher", "berth-researcher-cluster")):
        out.append({"apiVersion": RBAC, "kind": "ClusterRoleBinding",
                    "metadata": {"name": f"berth-{role}s", "labels": LABELS},
                    "roleRef": _role_ref(cluster_role), "subjects": _subjects(GROUP[role], by_role[role])})
    every = sorted(set(projects) | {p for u in users if u.role == "researcher" for p in u.projects})
    for project in every:
        members = [u.name for u in users if u.role == "researcher" and project in u.projects]
        out.append({"apiVersion": RBAC, "kind": "RoleBinding",
                    "metadata": {"name": "berth-researchers", "namespace": namespace_of_project(project),
                                 "labels": LABELS},
                    "roleRef": _role_ref("berth-researcher"), "subjects": _subjects(project_group(project), members)})
    return out


def objects(projects: Iterable[str] = (), users: Iterable[User] = ()) -> list[dict[str, Any]]:
    """Everything `berth rbac` prints: the ClusterRoles, then the bindings."""
    return cluster_roles() + bindings(projects, users)
