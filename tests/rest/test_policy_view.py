"""REST policies <-> Berth Policy specs, on dicts (berth.rest.policy_view with the real field mapping)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from berth.rest import fields
from berth.rest.errors import RestError
from berth.rest.policy_schema import policy_schemas
from berth.rest.policy_view import BY_POLICY_KIND, BY_SEGMENT, from_policy_spec, merge, reset, rest_field
from berth.rest.policy_view import to_policy_spec
from tests.rest.runai import conforms

EXAMPLES = Path(__file__).parents[2] / "examples" / "policies"
TRAINING, DISTRIBUTED = BY_SEGMENT["trainings"], BY_SEGMENT["distributed"]


def _refusal(call: Any) -> RestError:
    with pytest.raises(RestError) as caught:
        call()
    assert caught.value.code == 400
    return caught.value


def test_a_training_policy_goes_both_ways() -> None:
    policy = {
        "defaults": {"compute": {"gpuDevicesRequest": 1, "cpuMemoryRequest": "2G"},
                     "environmentVariables": {"instances": [{"name": "HOME", "value": "/home/me"}]},
                     "ports": {"attributes": {"container": 30100}}},
        "rules": {"compute": {"gpuDevicesRequest": {"required": True, "min": 1, "max": 4},
                              "cpuMemoryRequest": {"max": "8G"}},
                  "imagePullPolicy": {"options": [{"value": "Always"}]},
                  "environmentVariables": {"instances": {"canAdd": False, "locked": ["HOME"]}},
                  "ports": {"attributes": {"container": {"min": 30000, "max": 32767}}}},
    }
    spec = to_policy_spec(TRAINING, policy, fields)
    assert spec == {
        "gpu": {"value": "1", "rules": {"required": True, "min": "1", "max": "4"}},
        "memory": {"value": "2G", "rules": {"max": "8G"}},
        "imagePullPolicy": {"rules": {"options": ["Always"]}},
        "environment": {"items": {"HOME": {"value": "/home/me", "rules": {"canRemove": False}}},
                        "rules": {"canAdd": False}},
        "ports": {"items": {"DEFAULTS": {"value": {"container": 30100}}},
                  "itemRules": {"container": {"min": 30000, "max": 32767}}},
    }
    assert from_policy_spec(TRAINING, spec, fields) == {**policy, "imposedAssets": None}
    _documented(TRAINING, policy)


def test_a_distributed_policy_has_a_worker_and_a_master() -> None:
    policy = {"defaults": {"worker": {"numWorkers": 2}, "master": {"compute": {"gpuDevicesRequest": 0}}},
              "rules": {"worker": {"numWorkers": {"max": 8}}, "master": {"compute": {"gpuDevicesRequest": {"max": 1}}}}}
    spec = to_policy_spec(DISTRIBUTED, policy, fields)
    assert spec == {"workers": {"value": 2, "rules": {"max": 8}}, "masterSpec": {"gpu": {"value": "0", "rules": {"max": "1"}}}}
    assert from_policy_spec(DISTRIBUTED, spec, fields) == {**policy, "imposedAssets": None}
    _documented(DISTRIBUTED, policy)
    assert rest_field(DISTRIBUTED, "spec.masterSpec.gpu.rules.max", fields) == "policy.rules.master.compute.gpuDevicesRequest.max"
    err = _refusal(lambda: to_policy_spec(DISTRIBUTED, {"rules": {"numWorkers": {"max": 8}}}, fields))
    assert err.issues[0].field == "policy.rules.numWorkers" and "worker.numWorkers" in (err.details or "")


def test_what_berth_cannot_keep_is_refused_naming_the_field() -> None:
    step = _refusal(lambda: to_policy_spec(TRAINING, {"rules": {"compute": {"gpuDevicesRequest": {"step": 2}}}}, fields))
    assert step.issues[0].field == "policy.rules.compute.gpuDevicesRequest.step"
    unknown = _refusal(lambda: to_policy_spec(TRAINING, {"rules": {"compute": {"gpuWishes": {"max": 1}}}}, fields))
    assert unknown.issues[0].field == "policy.rules.compute.gpuWishes"
    assets = _refusal(lambda: to_policy_spec(TRAINING, {"imposedAssets": ["6f1c..."]}, fields))
    assert assets.issues[0].field == "policy.imposedAssets"
    default = _refusal(lambda: to_policy_spec(TRAINING, {"defaults": {"compute": {"gpuDevicesRequest": -1}}}, fields))
    assert default.issues[0].field == "policy.defaults.compute.gpuDevicesRequest"


@pytest.mark.parametrize("policy", [
    {"rules": {"environmentVariables": {"instances": 5}}},
    {"rules": {"environmentVariables": {"instances": {"locked": "HOME"}}}},
    {"rules": {"ports": {"attributes": ["container"]}}},
    {"rules": {"compute": {"gpuDevicesRequest": {"options": 3}}}},
    {"rules": {"compute": 7}},
    {"defaults": {"environmentVariables": {"instances": {"HOME": "/"}}}},
    {"defaults": {"ports": {"attributes": [1]}}},
    {"defaults": {"compute": {"gpuDevicesRequest": "lots"}}},
    {"defaults": {"storage": {"pvc": {"instances": [{"claimInfo": 3}]}}}},
    {"defaults": ["image"]},
], ids=str)
def test_odd_bodies_are_400_naming_a_field(policy: dict[str, Any]) -> None:
    err = _refusal(lambda: to_policy_spec(TRAINING, policy, fields))
    assert err.issues and err.issues[0].field.startswith("policy."), err.body()


def test_a_share_of_a_gpu_reads_as_a_portion() -> None:
    inference = BY_SEGMENT["inferences"]
    spec = {"gpu": {"value": "0.5", "rules": {"min": "0.25", "max": "2"}}}
    view = from_policy_spec(inference, spec, fields)
    assert view["rules"] == {"compute": {"gpuDevicesRequest": {"max": 2}, "gpuPortionRequest": {"min": 0.25}}}
    assert view["defaults"]["compute"]["gpuPortionRequest"] == 0.5
    assert to_policy_spec(inference, view, fields) == spec


def test_an_item_member_berth_lacks_is_refused() -> None:
    err = _refusal(lambda: to_policy_spec(
        TRAINING, {"rules": {"environmentVariables": {"attributes": {"value": {"required": True}}}}}, fields))
    assert err.issues[0].field == "policy.rules.environmentVariables.attributes.value"


def test_reset_and_merge_make_a_patch() -> None:
    spec = {"gpu": {"value": "1", "rules": {"min": "1", "max": "4"}}, "cpu": {"rules": {"max": "2"}}}
    cleared = reset(TRAINING, spec, ["compute.cpuCoreRequest"], fields)
    assert cleared == {"gpu": {"value": "1", "rules": {"min": "1", "max": "4"}}}
    assert merge(cleared, {"gpu": {"rules": {"max": "2"}}}) == {"gpu": {"value": "1", "rules": {"min": "1", "max": "2"}}}
    assert spec["cpu"] == {"rules": {"max": "2"}}  # the input is left alone
    assert _refusal(lambda: reset(TRAINING, spec, ["compute.nope"], fields)).issues[0].field == "reset.0"


@pytest.mark.parametrize(("cause", "field"), [
    ("spec.gpu.rules.min", "policy.rules.compute.gpuDevicesRequest.min"),
    ("spec.gpu.value", "policy.defaults.compute.gpuDevicesRequest"),
    ("spec.ports.itemRules.container.max", "policy.rules.ports.attributes.container.max"),
    ("spec.ports.items.DEFAULTS.value.container", "policy.defaults.ports.attributes.container"),
    ("spec.environment.rules.canAdd", "policy.rules.environmentVariables.instances.canAdd"),
    ("metadata.name", "meta.name"),
])
def test_the_api_servers_causes_name_rest_fields(cause: str, field: str) -> None:
    assert rest_field(TRAINING, cause, fields) == field


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_policy_reads_as_runai_shapes_it(path: Path) -> None:
    obj = yaml.safe_load(path.read_text())
    ptype = BY_POLICY_KIND[obj["kind"]]
    view = from_policy_spec(ptype, obj["spec"], fields, {"scope": "project"})
    assert view["defaults"] or view["rules"]
    conforms({"policy": view, "effective": view}, "get", f"/api/v2/policy/{ptype.segment}", 200)
    _documented(ptype, view)


def _documented(ptype: Any, view: dict[str, Any]) -> None:
    """What is served follows the schemas Berth's OpenAPI document gives (berth.rest.policy_schema)."""
    defaults, rules = policy_schemas(ptype)
    jsonschema.validate(view["defaults"] or {}, defaults)
    jsonschema.validate(view["rules"] or {}, rules)
