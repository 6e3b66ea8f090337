"""Builders for the policy tests: workloads and policies as the API server stores them (plain JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from berth.policy import Evaluation, evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def workload(spec: dict[str, Any], *, kind: str = "TrainingWorkload", name: str = "job",
             namespace: str = "runai-team-a") -> dict[str, Any]:
    return {"apiVersion": "run.ai/v2alpha1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def template(spec: dict[str, Any], *, kind: str = "TrainingWorkload", name: str = "tpl",
             namespace: str = "runai-team-a") -> dict[str, Any]:
    return workload({"usage": "Template", **spec}, kind=kind, name=name, namespace=namespace)


def policy(spec: dict[str, Any], *, kind: str = "TrainingPolicy", name: str = "limits",
           namespace: str = "runai-team-a") -> dict[str, Any]:
    return {"apiVersion": "run.ai/v2alpha1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def example(file: str) -> dict[str, Any]:
    """A policy of examples/policies, as a user would `kubectl apply` it."""
    return yaml.safe_load((EXAMPLES / file).read_text())


def said(result: Evaluation) -> list[str]:
    """The violations as kubectl prints them: `spec.gpu: must be no greater than 4 (...)`."""
    return [str(v) for v in result.violations]


def run(spec: dict[str, Any], pol: dict[str, Any] | None, *, base: dict[str, Any] | None = None,
        kind: str = "TrainingWorkload") -> Evaluation:
    if base is not None:
        spec = {"baseWorkload": base["metadata"]["name"], **spec}
    return evaluate(workload(spec, kind=kind), policy=pol, base=base)
