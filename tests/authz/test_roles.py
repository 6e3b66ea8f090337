"""The rule table's verdicts, as a user would meet them: pure, no server."""

from __future__ import annotations

import pytest

from berth.authz.roles import ROLES, RULES, RUNAI_ROLE, User, authorize

ALICE = User("alice", "researcher", ("team-a",))
VERA = User("vera", "viewer")
ROOT = User("root", "admin")


@pytest.mark.parametrize("verb", ["get", "list", "watch", "create", "update", "patch", "delete"])
def test_researcher_works_on_workloads_in_own_project_only(verb: str) -> None:
    assert authorize(ALICE, verb, "run.ai", "trainingworkloads", "runai-team-a").allowed
    refused = authorize(ALICE, verb, "run.ai", "trainingworkloads", "runai-team-b")
    assert not refused.allowed
    assert refused.message == (f'User "alice" cannot {verb} resource "trainingworkloads" in API group "run.ai" '
                               'in the namespace "runai-team-b"')
    assert refused.missing == (verb, "trainingworkloads", "run.ai", "runai-team-b")
    assert "runai-team-a" in refused.reason


def test_researcher_list_across_namespaces_is_refused_but_policies_are_readable() -> None:
    refused = authorize(ALICE, "list", "run.ai", "trainingworkloads", None)
    assert not refused.allowed and refused.message.endswith("at the cluster scope")
    assert authorize(ALICE, "list", "run.ai", "trainingpolicies", None).allowed
    assert authorize(ALICE, "get", "run.ai", "projects").allowed
    assert authorize(ALICE, "watch", "", "nodes").allowed


@pytest.mark.parametrize("resource,group", [("trainingpolicies", "run.ai"), ("projects", "run.ai"),
                                            ("departments", "run.ai"), ("nodepools", "run.ai"), ("nodes", "")])
def test_admin_only_writes(resource: str, group: str) -> None:
    for verb in ("create", "update", "patch", "delete"):
        for user in (ALICE, VERA):
            decision = authorize(user, verb, group, resource, "runai-team-a" if resource.endswith("policies") else None)
            assert not decision.allowed and f"may not {verb} {resource}" in decision.reason
        assert authorize(ROOT, verb, group, resource, None).allowed


def test_researcher_reads_pods_logs_events_and_execs_in_own_project() -> None:
    for resource in ("pods", "pods/log", "events"):
        assert authorize(ALICE, "get", "", resource, "runai-team-a").allowed
        assert not authorize(ALICE, "get", "", resource, "runai-team-b").allowed
        assert not authorize(ALICE, "delete", "", resource, "runai-team-a").allowed
    assert authorize(ALICE, "create", "", "pods/exec", "runai-team-a").allowed
    assert not authorize(ALICE, "create", "", "pods/exec", "runai-team-b").allowed
    assert not authorize(ALICE, "update", "run.ai", "trainingworkloads/status", "runai-team-a").allowed
    assert not authorize(ALICE, "get", "", "secrets", "runai-team-a").allowed


def test_viewer_reads_all_but_secrets_and_writes_nothing() -> None:
    assert authorize(VERA, "list", "run.ai", "trainingworkloads", None).allowed
    assert authorize(VERA, "get", "", "pods/log", "runai-team-b").allowed
    assert not authorize(VERA, "get", "", "secrets", "runai-team-b").allowed
    assert not authorize(VERA, "create", "run.ai", "trainingworkloads", "runai-team-a").allowed
    assert not authorize(VERA, "create", "", "pods/exec", "runai-team-a").allowed


def test_researcher_without_projects_reaches_no_namespace() -> None:
    nobody = User("bob", "researcher")
    decision = authorize(nobody, "create", "run.ai", "trainingworkloads", "runai-team-a")
    assert not decision.allowed and "assigned to no project" in decision.reason


def test_every_role_has_rules_and_a_runai_counterpart() -> None:
    assert set(ROLES) == set(RULES) == set(RUNAI_ROLE)
    assert not authorize(User("x", "root"), "get", "", "pods", "default").allowed
