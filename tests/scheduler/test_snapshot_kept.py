"""The scheduler converts each object once per change, not once per cycle (`snapshot_of.Kept`): what a cycle
sees must still be exactly the cache's objects as they are now."""

from __future__ import annotations

from berth.scheduler import snapshot_of


def _pod(name: str, version: str, node: str | None = None) -> dict:
    return {"metadata": {"name": name, "namespace": "runai-a", "resourceVersion": version},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}


def test_an_object_is_converted_again_only_when_its_version_changes() -> None:
    calls: list[str] = []

    def convert(obj: dict) -> object:
        calls.append(obj["metadata"]["resourceVersion"])
        return snapshot_of.pod(obj)

    kept = snapshot_of.Kept(convert)
    first = kept([_pod("a", "1"), _pod("b", "2")])
    again = kept([_pod("a", "1"), _pod("b", "3", node="n1")])
    assert calls == ["1", "2", "3"]
    assert again[0] is first[0]  # unchanged: the same conversion
    assert [p.node for p in again] == [None, "n1"]  # changed: what the object says now


def test_objects_gone_from_the_cache_are_forgotten() -> None:
    kept = snapshot_of.Kept(snapshot_of.pod)
    kept([_pod("a", "1"), _pod("b", "2")])
    assert [p.name for p in kept([_pod("b", "2")])] == ["b"]
    recreated = kept([_pod("a", "7"), _pod("b", "2")])  # deleted and made again: a new version
    assert [p.name for p in recreated] == ["a", "b"]


def test_an_object_without_a_version_is_never_taken_from_what_was_kept() -> None:
    kept = snapshot_of.Kept(snapshot_of.pod)
    bare = _pod("a", "1")
    del bare["metadata"]["resourceVersion"]
    kept([bare])
    bare["spec"]["nodeName"] = "n2"
    assert kept([bare])[0].node == "n2"
