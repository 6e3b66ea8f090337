"""Policies on the request path: every workload create and spec update goes through `berth.policy.evaluate`
(composition from policy defaults, a base template and the workload, then every rule), so it must cost a
small fraction of a millisecond next to validation and storage.
"""

from __future__ import annotations

import copy
from typing import Any

from common import Figure, median_rate

from berth.policy import check_policy, evaluate
from berth.policy.shapes import spec_shapes

# A project's training policy with 20 rules: scalar min/max/required/options/canEdit, itemized canAdd,
# canRemove/canEdit on a default item, itemRules, and a DEFAULTS item.
POLICY = {
    "apiVersion": "run.ai/v2alpha1",
    "kind": "TrainingPolicy",
    "metadata": {"name": "team-a-training", "namespace": "runai-team-a"},
    "spec": {
        "gpu": {"rules": {"required": True, "min": "0.5", "max": "8"}, "value": "1"},
        "memory": {"rules": {"min": "1G", "max": "512Gi"}, "value": "8Gi"},
        "cpu": {"rules": {"max": "64"}, "value": "2"},
        "image": {"rules": {"required": True}},
        "nodePools": {"rules": {"options": ["h100", "a100", "default"]}, "value": "default"},
        "runAsUser": {"rules": {"required": True, "canEdit": False}, "value": True},
        "largeShm": {"rules": {"canEdit": False}, "value": True},
        "backoffLimit": {"rules": {"max": 6}, "value": 2},
        "nodeType": {"rules": {"canEdit": False}},
        "terminateAfterPreemption": {"value": True},
        "ports": {
            "rules": {"canAdd": True},
            "itemRules": {"container": {"min": 1024, "max": 32767}},
            "items": {"metrics": {"rules": {"canRemove": False, "canEdit": False},
                                  "value": {"container": 9100, "serviceType": "ClusterIP"}}},
        },
        "pvcs": {
            "itemRules": {"existingPvc": {"canEdit": False}, "claimName": {"required": True}},
            "items": {"DEFAULTS": {"value": {"existingPvc": True, "readOnly": False}}},
        },
    },
}

# The team's template (a usage: Template in the project), and a submission that builds on it.
BASE = {
    "apiVersion": "run.ai/v2alpha1",
    "kind": "TrainingWorkload",
    "metadata": {"name": "pytorch-template", "namespace": "runai-team-a"},
    "spec": {
        "usage": "Template",
        "image": {"value": "nvcr.io/nvidia/pytorch:24.01-py3"},
        "gpu": {"value": "4"},
        "memory": {"value": "64Gi"},
        "nodePools": {"value": "h100"},
        "environment": {"items": {"HF_HOME": {"value": "/scratch/hf"}, "NCCL_DEBUG": {"value": "WARN"}}},
        "pvcs": {"items": {"scratch": {"value": {"claimName": "scratch", "path": "/scratch"}}}},
        "ports": {"items": {"tensorboard": {"value": {"container": 6006, "serviceType": "ClusterIP"}}}},
    },
}

WORKLOAD = {
    "apiVersion": "run.ai/v2alpha1",
    "kind": "TrainingWorkload",
    "metadata": {"name": "train-1", "namespace": "runai-team-a", "labels": {"project": "team-a"}},
    "spec": {
        "baseWorkload": "pytorch-template",
        "name": {"value": "train-1"},
        "gpu": {"value": "8"},
        "command": {"value": "bash"},
        "arguments": {"value": "/scripts/run.sh --epochs 3"},
        "runAsUid": {"value": 1234},
        "environment": {"items": {"HF_TOKEN": {"value": "SECRET:hf-secret,secret"}, "NCCL_DEBUG": {"deleted": True}}},
        "pvcs": {"items": {"data": {"value": {"claimName": "imagenet", "path": "/data", "readOnly": True}}}},
        "ports": {"items": {"http": {"value": {"container": 8008, "serviceType": "ClusterIP"}}}},
    },
}


def count_rules(spec: dict[str, Any]) -> int:
    """Rules in a policy spec: each key under a field's `rules`, an item's `rules`, or an `itemRules` member."""
    total = 0
    for entry in spec.values():
        total += len(entry.get("rules") or {})
        total += sum(len(member) for member in (entry.get("itemRules") or {}).values())
        total += sum(len(item.get("rules") or {}) for item in (entry.get("items") or {}).values())
    return total


def policy_eval() -> Figure:
    workload, policy, base = copy.deepcopy(WORKLOAD), copy.deepcopy(POLICY), copy.deepcopy(BASE)
    assert not check_policy(policy["spec"], spec_shapes("TrainingWorkload"))
    result = evaluate(workload, policy=policy, base=base)
    assert result.allowed, result.violations  # the common case: an accepted workload, every rule checked
    rules = count_rules(policy["spec"])
    rate, rates = median_rate(lambda: evaluate(workload, policy=policy, base=base), per_round=2000)
    return Figure("policy.eval_ms", 1000 / rate, "ms", "< 0.2",
                  {"rounds_ms": [round(1000 / r, 4) for r in rates], "rules": rules,
                   "effective_fields": len(result.spec)})


BENCHMARKS = [policy_eval]
