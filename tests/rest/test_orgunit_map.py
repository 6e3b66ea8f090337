"""The pure translation between Run:ai's org-unit shapes and Berth's objects (`berth.rest.orgunit_map`,
`cluster_map`, `listing`), on dicts: units, status, pool ids, field renames, filters and paging."""

from __future__ import annotations

import pytest

from berth.rest import listing
from berth.rest.cluster_map import find_pool, pool_id, pools_by_name
from berth.rest.errors import RestError
from berth.rest.orgunit_map import (answer_resources, merged_resources, project_answer, project_spec_patch,
                                    rest_field, spec_resources)
from tests.rest.runai import conforms

A100 = {"metadata": {"name": "a100", "uid": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}, "spec": {}}
POOLS = pools_by_name([A100])


def test_pool_ids_are_stable_numbers_and_any_of_id_uid_or_name_finds_the_pool() -> None:
    number = pool_id(A100)
    assert number == pool_id(A100) and 0 < number < 2**53
    assert pool_id(POOLS["default"]) == 0  # no NodePool object named default
    for key in (str(number), A100["metadata"]["uid"], "a100"):
        assert find_pool(POOLS, key) == "a100"
    assert find_pool(POOLS, "0") == "default" and find_pool(POOLS, "t4") is None


def test_memory_units_and_limits_become_berth_quantities() -> None:
    given = [{"nodePool": {"id": str(pool_id(A100))}, "gpu": {"deserved": 2.0, "limit": -1},
              "memory": {"deserved": 40, "limit": 80, "units": "GB"}, "cpu": {"deserved": 4000.0}},
             {"nodePool": None, "gpu": {"deserved": 0.5}}]
    assert spec_resources(given, POOLS) == [
        {"nodePool": "a100", "gpu": {"deserved": 2, "maxAllowed": -1}, "cpu": {"deserved": 4000},
         "memory": {"deserved": "40G", "maxAllowed": "80G"}},
        {"nodePool": "default", "gpu": {"deserved": 0.5}}]
    with pytest.raises(RestError) as refused:
        spec_resources([{"gpu": {"deserved": 1}, "memory": {"deserved": -5, "units": "MB"}}], POOLS)
    assert refused.value.issues[0].field == "resources[0].memory.deserved"


def test_answers_read_quantities_and_global_quota_fields() -> None:
    spec = {"deservedGpus": 4, "maxAllowedGpus": 8}
    assert answer_resources(spec, POOLS) == [{"nodePool": {"id": "0", "name": "default"},
                                              "gpu": {"deserved": 4, "limit": 8}}]
    spec = {"nodePoolsResources": [{"nodePool": "a100", "gpu": {"deserved": 1}, "cpu": {"deserved": "48"},
                                    "memory": {"deserved": "1Gi", "maxAllowed": -1}}]}
    [entry] = answer_resources(spec, POOLS)
    assert entry["cpu"] == {"deserved": 48000} and entry["memory"] == {"deserved": 1024, "limit": -1, "units": "Mib"}


def test_a_project_answer_carries_usage_in_runai_units_and_follows_the_schema() -> None:
    project = {"metadata": {"name": "team-a", "uid": "11111111-2222-4333-8444-555555555555",
                            "creationTimestamp": "2026-12-04T15:00:00Z",
                            "managedFields": [{"manager": "kubectl", "time": "2026-12-04T15:05:00Z"}]},
               "spec": {"department": "research", "deservedGpus": 2, "trainingJobTimeLimitSecs": 60,
                        "nodeAffinityTrain": ["dgx"]},
               "status": {"phase": "Ready", "namespace": "runai-team-a", "message": "ok",
                          "allocated": {"gpu": 1.5, "cpu": "2500m", "memory": "2Gi"},
                          "requested": {"gpu": 3, "cpu": "4", "memory": "4G"},
                          "nodePools": [{"nodePool": "a100", "allocated": {"gpu": 1.5}, "requested": {"gpu": 3}}]}}
    research = {"metadata": {"name": "research", "uid": "99999999-2222-4333-8444-555555555555"}}
    answer = project_answer(project, "c1d2e3f4-0000-4000-8000-000000000000", POOLS, {"research": research})
    conforms(answer, "get", "/api/v1/org-unit/projects/{projectId}", 200)
    assert answer["parentId"] == research["metadata"]["uid"]
    assert answer["updatedAt"] == "2026-12-04T15:05:00Z"
    assert answer["status"]["quotaStatus"]["allocated"] == {"gpu": 1.5, "cpu": 2500, "memory": 2147.484}
    assert answer["status"]["quotaStatus"]["requested"] == {"gpu": 3, "cpu": 4000, "memory": 4000}
    [pool] = answer["status"]["nodePoolQuotaStatuses"]
    assert pool["nodePoolName"] == "a100" and pool["nodePoolId"] == str(pool_id(A100))
    assert answer["schedulingRules"] == {"trainingJobTimeLimitSeconds": 60}
    assert answer["nodeTypes"] == {"training": ["dgx"]}


def test_put_clears_what_it_leaves_out_and_patch_changes_only_what_it_gives() -> None:
    patch = project_spec_patch({"resources": [{"gpu": {"deserved": 1}}]}, POOLS)
    assert patch["deservedGpus"] is None and patch["interactiveJobTimeLimitSecs"] is None
    assert patch["nodeAffinityTrain"] is None and patch["defaultNodePools"] is None
    current = [{"nodePool": "default", "gpu": {"deserved": 1}},
               {"nodePool": "a100", "gpu": {"deserved": 2, "limit": 4}, "cpu": {"deserved": 8000}}]
    merged = merged_resources(current, [{"nodePool": "a100", "gpu": {"deserved": 5}},
                                        {"nodePool": "t4", "gpu": {"deserved": 1}}])
    assert merged == [{"nodePool": "default", "gpu": {"deserved": 1}},
                      {"nodePool": "a100", "gpu": {"deserved": 5, "limit": 4}, "cpu": {"deserved": 8000}},
                      {"nodePool": "t4", "gpu": {"deserved": 1}}]
    capped = merged_resources(current, [{"nodePool": "a100", "gpu": {"deserved": 2, "maxAllowed": 6}}])
    assert capped[1]["gpu"] == {"deserved": 2, "maxAllowed": 6}


def test_berth_field_paths_read_as_the_request_names() -> None:
    assert rest_field("spec.nodePoolsResources[1].gpu.maxAllowed") == "resources[1].gpu.limit"
    assert rest_field('spec.nodePoolsResources[0].gpu.deserved: Invalid value: -1') == \
        "resources[0].gpu.deserved: Invalid value: -1"
    assert rest_field("spec.interactiveJobTimeLimitSecs") == "schedulingRules.interactiveJobTimeLimitSeconds"
    assert rest_field("spec.nodeAffinityInteractive") == "nodeTypes.workspace"
    assert rest_field("metadata.name") == "name"


def test_filters_sort_and_pages() -> None:
    items = [{"name": n, "createdAt": f"2026-01-0{i}"} for i, n in enumerate(["b", "a", "ab", "c"], 1)]
    fields = {"name": listing.key("name"), "createdAt": listing.key("createdAt", "date")}

    def names(**kw: object) -> tuple[list[str], int | None]:
        args = {"filter_by": None, "sort_by": None, "sort_order": "asc", "offset": 0, "limit": 50, **kw}
        chosen, following = listing.select(items, fields, **args)  # type: ignore[arg-type]
        return [i["name"] for i in chosen], following

    assert names(filter_by=["name=^a"]) == (["a", "ab"], None)
    assert names(filter_by=["name=@b,name!=ab"]) == (["b"], None)
    assert names(filter_by=["createdAt>=2026-01-03"]) == (["ab", "c"], None)
    assert names(sort_by="name", sort_order="desc", limit=2) == (["c", "b"], 2)
    assert names(sort_by="name", offset=2, limit=2) == (["b", "c"], None)
    with pytest.raises(RestError) as refused:
        names(filter_by=["owner==me"])
    assert refused.value.issues[0].field == "filterBy"
