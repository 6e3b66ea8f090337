"""Random sequences of writes, compactions and reopenings checked against a plain-Python model of MVCC:
every list at every retained revision, paged or not, and the change log must match the model exactly."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.store import AlreadyExists, Conflict, Expired, NotFound, ResourceRef, Store

REFS = [ResourceRef("run.ai", "trainingworkloads"), ResourceRef("", "pods")]
KEYS = st.tuples(st.sampled_from(REFS), st.sampled_from(["", "a", "b"]), st.sampled_from(["x", "y", "z"]))
PRECONDITIONS = st.sampled_from(["none", "current", "stale"])  # expected_rv: None, the stored one, another
OPS = st.one_of(
    st.tuples(st.just("create"), KEYS, st.integers(0, 9)),
    st.tuples(st.just("update"), KEYS, PRECONDITIONS, st.integers(0, 9)),
    st.tuples(st.just("delete"), KEYS, PRECONDITIONS),
    st.tuples(st.just("compact"), st.integers(0, 8)),
    st.tuples(st.just("reopen")),
)

Key = tuple[ResourceRef, str, str]


def body(key: Key, n: int) -> dict:
    return {"metadata": {"name": key[2], "namespace": key[1]}, "spec": {"n": n}}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, max_size=40), limit=st.integers(1, 4))
def test_store_matches_the_model(tmp_path_factory, ops: list[tuple], limit: int) -> None:
    path: Path = tmp_path_factory.mktemp("model") / "store.db"
    store = Store(path)
    states: list[dict[Key, dict]] = [{}]          # states[R] = live objects after revision R
    log: list[tuple[str, Key, dict, dict | None]] = [("", (REFS[0], "", ""), {}, None)]  # log[R]
    compacted = 0
    try:
        for op in ops:
            current = states[-1]
            if op[0] == "compact":
                compacted = max(compacted, len(states) - 1 - op[1])
                assert store.compact(keep=op[1]) == compacted
                continue
            if op[0] == "reopen":
                store.close()
                store = Store(path)
                continue
            key = op[1]
            rv = int(current[key]["metadata"]["resourceVersion"]) if key in current else None
            if op[0] != "create":
                expected = {"none": None, "current": rv or 1, "stale": (rv or 1) + 1}[op[2]]
            try:
                if op[0] == "create":
                    result = store.create(*key, body(key, op[2]))
                    kind, previous = "ADDED", None
                elif op[0] == "update":
                    result = store.update(*key, body(key, op[3]), expected_rv=expected)
                    kind, previous = "MODIFIED", current[key]
                else:
                    result = store.delete(*key, expected_rv=expected)
                    kind, previous = "DELETED", current[key]
            except AlreadyExists:
                assert rv is not None
                continue
            except NotFound:
                assert rv is None
                continue
            except Conflict as exc:
                assert rv is not None and op[2] == "stale" and exc.current_rv == rv
                continue
            assert (rv is None) == (kind == "ADDED") and (kind == "ADDED" or op[2] != "stale")
            revision = len(states)
            assert result["metadata"]["resourceVersion"] == str(revision)
            following = dict(current)
            if kind == "DELETED":
                del following[key]
            else:
                following[key] = result
            states.append(following)
            log.append((kind, key, result, previous))

        latest = len(states) - 1
        assert store.revision() == latest and store.compacted_revision() == compacted
        for ref in REFS:
            for revision in range(compacted, latest + 1):
                want = [obj for key, obj in sorted(states[revision].items(), key=lambda kv: kv[0][1:])
                        if key[0] == ref]
                assert store.list(ref, None, resource_version=revision).items == want
                page = store.list(ref, None, resource_version=revision, limit=limit)
                got = list(page.items)
                while page.continue_token:
                    page = store.list(ref, None, continue_token=page.continue_token, limit=limit)
                    got += page.items
                assert got == want
                assert store.list(ref, "a", resource_version=revision).items == \
                    [obj for obj in want if obj["metadata"]["namespace"] == "a"]
            assert store.count(ref) == len([k for k in states[-1] if k[0] == ref])
        for key, obj in states[-1].items():
            assert store.get(*key) == obj
        changes = store.changes(compacted)
        assert [(c.type, (c.ref, c.namespace, c.name), c.object) for c in changes] == \
            [(kind, key, obj) for kind, key, obj, _ in log[compacted + 1:]]
        assert [c.previous for c in changes] == [previous for _, _, _, previous in log[compacted + 1:]]
        if compacted:
            try:
                store.changes(compacted - 1)
                raise AssertionError("changes below the compacted revision must be Expired")
            except Expired:
                pass
    finally:
        store.close()
