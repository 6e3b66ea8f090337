"""The resource model's cost on the request path: every create and update through the API server and
every admission check will validate a document like this one, so it must stay far below a millisecond.
"""

from __future__ import annotations

import copy

import yaml
from common import Figure, median_rate

from berth.api.load import parse_documents, validate

# The real-world training object of the Run:ai notes (section 1.2): scalars, items, a PVC and a port.
DOCUMENT = {
    "apiVersion": "run.ai/v2alpha1",
    "kind": "TrainingWorkload",
    "metadata": {"name": "train-1", "namespace": "runai-team-a", "labels": {"project": "team-a"}},
    "spec": {
        "name": {"value": "train-1"},
        "image": {"value": "nvcr.io/nvidia/pytorch:24.01-py3"},
        "gpu": {"value": "4"},
        "nodePools": {"value": "h100"},
        "largeShm": {"value": True},
        "backoffLimit": {"value": 0},
        "command": {"value": "bash"},
        "arguments": {"value": "/scripts/run.sh --epochs 3"},
        "runAsUser": {"value": True},
        "runAsUid": {"value": 1234},
        "runAsGid": {"value": 5678},
        "environment": {"items": {"HF_TOKEN": {"value": "SECRET:hf-secret,secret"}, "HOME": {"value": "/home/u"}}},
        "pvcs": {"items": {"pvc--0": {"value": {"claimName": "scratch", "existingPvc": True, "path": "/scratch",
                                                 "readOnly": False}}}},
        "ports": {"items": {"http": {"value": {"container": 8008, "serviceType": "ClusterIP"}}}},
    },
}


def validate_workload() -> Figure:
    document = copy.deepcopy(DOCUMENT)
    rate, rates = median_rate(lambda: validate(document), per_round=2000)
    return Figure("api.validate_workload_per_s", rate, "docs/s", ">= 10000 (under 0.1 ms each)",
                  {"rounds": [round(r) for r in rates], "fields": len(DOCUMENT["spec"])})


def parse_and_validate_yaml() -> Figure:
    text = yaml.safe_dump(DOCUMENT)
    rate, rates = median_rate(lambda: validate(parse_documents(text)[0]), per_round=1000)
    return Figure("api.yaml_to_model_per_s", rate, "docs/s", ">= 2000 (under 0.5 ms each)",
                  {"rounds": [round(r) for r in rates], "bytes": len(text)})


BENCHMARKS = [validate_workload, parse_and_validate_yaml]
