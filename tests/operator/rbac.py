"""Kubernetes RBAC's rule matching, enough to ask whether deploy/'s roles allow what the operator did: a pure
reading of PolicyRules (apiGroups, resources with their subresources, resourceNames, verbs, "*")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_RBAC = ROOT / "deploy" / "base" / "operator-rbac.yaml"


def allows(rule: dict[str, Any], verb: str, group: str, resource: str, subresource: str | None,
           name: str | None) -> bool:
    """Whether one PolicyRule allows the request (as kube-apiserver's RBAC authorizer matches it)."""
    wanted = f"{resource}/{subresource}" if subresource else resource
    return ((set(rule.get("verbs") or ()) & {verb, "*"}) != set()
            and (set(rule.get("apiGroups") or ()) & {group, "*"}) != set()
            and (set(rule.get("resources") or ()) & {wanted, "*"}) != set()
            and (not rule.get("resourceNames") or name in rule["resourceNames"]))


def operator_rules() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The operator's ClusterRole rules, and its Roles' rules by namespace."""
    cluster: list[dict[str, Any]] = []
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for doc in yaml.safe_load_all(OPERATOR_RBAC.read_text()):
        if doc["kind"] == "ClusterRole":
            cluster += doc["rules"]
        elif doc["kind"] == "Role":
            by_namespace.setdefault(doc["metadata"]["namespace"], []).extend(doc["rules"])
    return cluster, by_namespace


def refused_requests(audit_log: Path, username: str) -> list[str]:
    """The requests `username` made (as the audit log has them) that the operator's roles would not allow."""
    cluster, by_namespace = operator_rules()
    refused = set()
    for line in audit_log.read_text().splitlines() if audit_log.exists() else ():
        event = json.loads(line)
        if event["user"]["username"] != username:
            continue
        ref = event.get("objectRef") or {}
        if not ref.get("resource"):
            continue  # discovery and other non-resource paths: allowed to every authenticated user
        rules = cluster + by_namespace.get(ref.get("namespace") or "", [])
        request = (event["verb"], ref.get("apiGroup") or "", ref["resource"], ref.get("subresource"), ref.get("name"))
        if not any(allows(rule, *request) for rule in rules):
            refused.add(f"{request[0]} {request[2]}{'/' + request[3] if request[3] else ''} (group "
                        f"'{request[1]}', namespace '{ref.get('namespace', '')}')")
    return sorted(refused)
