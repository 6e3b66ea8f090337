"""Project quotas: units that say themselves (millicores / MiB numbers, or quantity strings), priority and
minimum runtimes, and what the scheduler reads of them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from berth.api.projects import Project
from berth.scheduler import snapshot_of


def project(**spec) -> dict:
    return {"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": "a"}, "spec": spec}


def pool(**resources) -> list[dict]:
    return [{"nodePool": "default", "gpu": {"deserved": 1}, **resources}]


def test_cpu_numbers_are_millicores_and_strings_are_cores():
    obj = project(nodePoolsResources=pool(cpu={"deserved": 2500, "maxAllowed": "4"}, memory={"deserved": "40Gi",
                                                                                          "maxAllowed": 81920}))
    Project.model_validate(obj)
    quota = snapshot_of.project(obj).quotas["default"]
    assert (quota.cpu.deserved, quota.cpu.max_allowed) == (2500, 4000)
    assert (quota.memory.deserved, quota.memory.max_allowed) == (40960, 81920)


def test_minus_one_is_no_limit_for_every_resource():
    obj = project(nodePoolsResources=pool(cpu={"deserved": 1000, "maxAllowed": -1}, memory={"maxAllowed": -1}))
    Project.model_validate(obj)
    quota = snapshot_of.project(obj).quotas["default"]
    assert quota.cpu.max_allowed == quota.memory.max_allowed == quota.gpu.max_allowed == -1


@pytest.mark.parametrize("resource, value, words", [
    ("cpu", 4, "a number here is in millicores: 4 is 4 thousandths of a core"),
    ("memory", 40, "a number here is in MiB: 40 is 40 MiB"),
    ("cpu", "four", "four is not a quantity"),
    ("cpu", 1.5, "1.5 millicores is not a whole number"),
    ("memory", -2, "must be -1 (no limit) or no less than 0"),
])
def test_an_ambiguous_or_bad_amount_is_refused_with_the_fix(resource, value, words):
    with pytest.raises(ValidationError) as caught:
        Project.model_validate(project(nodePoolsResources=pool(**{resource: {"deserved": value}})))
    assert words in str(caught.value)
    assert f"nodePoolsResources.0.{resource}.deserved" in str(caught.value)


def test_max_allowed_below_deserved_is_compared_in_one_unit():
    with pytest.raises(ValidationError) as caught:
        Project.model_validate(project(nodePoolsResources=pool(cpu={"deserved": "4", "maxAllowed": 2000})))
    assert "no less than deserved (4, 4000 millicores)" in str(caught.value)


def test_priority_and_minimum_runtimes_reach_the_scheduler():
    obj = project(priority=200, preemptMinRuntimeSecs=60, reclaimMinRuntimeSecs=600, deservedGpus=1)
    Project.model_validate(obj)
    read = snapshot_of.project(obj)
    assert (read.priority, read.preempt_min_runtime, read.reclaim_min_runtime) == (200, 60, 600)
    unset = snapshot_of.project(project())
    assert (unset.priority, unset.preempt_min_runtime, unset.reclaim_min_runtime) == (100, None, None)
    with pytest.raises(ValidationError):
        Project.model_validate(project(reclaimMinRuntimeSecs=-5))


def test_department_priority_is_read_too():
    dept = {"apiVersion": "run.ai/v1", "kind": "Department", "metadata": {"name": "d"}, "spec": {"priority": 7}}
    assert snapshot_of.department(dept).priority == 7


def test_limit_is_another_name_for_max_allowed():
    obj = project(nodePoolsResources=[{"nodePool": "default", "gpu": {"deserved": 1, "limit": 3},
                                       "cpu": {"deserved": 1000, "limit": -1}}])
    assert Project.model_validate(obj).to_dict()["spec"]["nodePoolsResources"][0]["gpu"] == {"deserved": 1,
                                                                                             "maxAllowed": 3}
    quota = snapshot_of.project(obj).quotas["default"]
    assert (quota.gpu.max_allowed, quota.cpu.max_allowed) == (3, -1)
    with pytest.raises(ValidationError, match="no less than deserved"):
        Project.model_validate(project(nodePoolsResources=[{"nodePool": "default", "gpu": {"deserved": 2,
                                                                                            "limit": 1}}]))
