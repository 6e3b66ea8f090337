"""`berth rbac` prints RBAC that a real Kubernetes cluster would evaluate to the same verdicts as Berth's API
server: the printed objects are evaluated by a small RBAC evaluator written here (Kubernetes' semantics:
apiGroups, resources with subresources, verbs, resourceNames, ClusterRoles bound cluster-wide or by a
RoleBinding in one namespace, User and Group subjects), and compared with the API server's own check on
every role x verb x resource x namespace (own project, another project, cluster scope / all namespaces)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from berth.apiserver import errors
from berth.apiserver.authorization import check
from berth.apiserver.resources import RESOURCES, Resource
from berth.apiserver import users as user_file
from berth.authz.rbac import groups_of
from berth.authz.roles import User
from berth.cli.main import cli

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
NAMESPACES = ("runai-team-a", "runai-team-b", None)


@dataclass(frozen=True)
class Subject:
    user: str
    groups: tuple[str, ...] = ()


class Rbac:
    """Kubernetes RBAC over a set of objects: allow when any binding that names the subject refers to a
    ClusterRole with a matching rule; a RoleBinding's grant holds only in its own namespace."""

    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.roles = {o["metadata"]["name"]: o.get("rules") or [] for o in objs if o["kind"] == "ClusterRole"}
        self.bindings = [o for o in objs if o["kind"] in ("ClusterRoleBinding", "RoleBinding")]

    @staticmethod
    def _names(subject: Subject, binding: dict[str, Any]) -> bool:
        for s in binding.get("subjects") or []:
            if s["kind"] == "User" and s["name"] == subject.user:
                return True
            if s["kind"] == "Group" and s["name"] in subject.groups:
                return True
        return False

    @staticmethod
    def _rule(rule: dict[str, Any], verb: str, group: str, resource: str, name: str | None) -> bool:
        def has(values: list[str], value: str) -> bool:
            return "*" in values or value in values

        if not (has(rule.get("verbs", []), verb) and has(rule.get("apiGroups", []), group)):
            return False
        resources = rule.get("resources", [])
        main, _, sub = resource.partition("/")
        if not (has(resources, resource) or (sub and f"*/{sub}" in resources)):
            return False
        names = rule.get("resourceNames") or []
        return not names or (name is not None and name in names)

    def allows(self, subject: Subject, verb: str, group: str, resource: str, namespace: str | None,
               name: str | None = None) -> bool:
        for binding in self.bindings:
            if not self._names(subject, binding):
                continue
            if binding["kind"] == "RoleBinding" and binding["metadata"]["namespace"] != namespace:
                continue
            assert binding["roleRef"]["kind"] == "ClusterRole"
            if any(self._rule(r, verb, group, resource, name) for r in self.roles[binding["roleRef"]["name"]]):
                return True
        return False


def test_evaluator_follows_kubernetes_semantics() -> None:
    """The evaluator itself: a namespaced grant holds in its namespace only; subresources are separate;
    resourceNames limit to named requests."""
    rbac = Rbac([
        {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["one"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"kind": "ClusterRole",
         "name": "r"}, "subjects": [{"kind": "User", "name": "u"}]}])
    u = Subject("u")
    assert rbac.allows(u, "get", "", "pods", "ns")
    assert not rbac.allows(u, "get", "", "pods", "other")
    assert not rbac.allows(u, "list", "", "pods", None)
    assert not rbac.allows(u, "get", "", "pods/log", "ns")
    assert rbac.allows(u, "get", "", "configmaps", "ns", "one")
    assert not rbac.allows(u, "get", "", "configmaps", "ns", "two")
    assert not rbac.allows(Subject("v"), "get", "", "pods", "ns")


def requests() -> list[tuple[Resource, str, str | None, str]]:
    """Every (resource, subresource, namespace, verb) worth asking about."""
    table = []
    for res in RESOURCES:
        subs = ("", *res.subresources, *(("exec", "attach", "portforward") if res.kind == "Pod" else ()))
        for sub, verb in itertools.product(subs, VERBS):
            for namespace in (NAMESPACES if res.namespaced else (None,)):
                table.append((res, sub, namespace, verb))
    return table


def server_allows(user: User, res: Resource, sub: str, namespace: str | None, verb: str) -> bool:
    try:
        check(user, verb, res, namespace, None, sub)
    except errors.ApiError as exc:
        assert exc.code == 403
        return False
    return True


USERS = (User("root", "admin"), User("vera", "viewer"), User("alice", "researcher", ("team-a",)),
         User("bob", "researcher", ("team-a", "team-b")), User("carl", "researcher", ("team-c",)))


def printed(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["rbac", *args])
    assert result.exit_code == 0, result.output
    return [o for o in yaml.safe_load_all(result.output) if o]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("users")
    for u in USERS:
        if u.name != "root":
            user_file.add(root, u.name, u.role, u.projects)
    return root


@pytest.mark.parametrize("how", ["groups", "users"])
def test_printed_rbac_gives_the_api_servers_verdicts(how: str, data_dir: Path) -> None:
    if how == "groups":  # people put into groups by an identity provider
        rbac = Rbac(printed("--project", "team-a", "--project", "team-b", "--project", "team-c"))
    else:  # the users of a berth up, bound by name (the admin by group: the bootstrap token is not a user)
        rbac = Rbac(printed("--users", str(data_dir)))
    compared = 0
    for user in USERS:
        groups: tuple[str, ...] = ()
        if how == "groups" or user.role == "admin":
            groups = tuple(groups_of(user))  # what `kubectl auth whoami` shows
        subject = Subject(user.name if how == "users" else f"someone-{user.name}", groups)
        for res, sub, namespace, verb in requests():
            plural = f"{res.plural}/{sub}" if sub else res.plural
            expected = server_allows(user, res, sub, namespace, verb)
            got = rbac.allows(subject, verb, res.group, plural, namespace)
            assert got == expected, (f"{user.role} {user.name}: {verb} {plural} in {namespace}: "
                                     f"RBAC says {got}, the API server {expected}")
            compared += 1
    assert compared > 2000
    print(f"{compared} verdicts compared ({how})")


def test_rbac_names_each_role_and_project(data_dir: Path) -> None:
    objs = printed("--project", "team-a", "--users", str(data_dir))
    kinds = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objs}
    assert ("ClusterRole", "berth-researcher", None) in kinds
    assert ("RoleBinding", "berth-researchers", "runai-team-a") in kinds
    assert ("RoleBinding", "berth-researchers", "runai-team-c") in kinds  # carl's project, from the users file
    roles = {o["metadata"]["name"]: o["metadata"]["annotations"]["berth.run.ai/runai-role"]
             for o in objs if o["kind"] == "ClusterRole"}
    assert roles["berth-admin"] == "System administrator" and roles["berth-viewer"] == "Viewer"
