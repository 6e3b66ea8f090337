"""Lists: order, namespaces, selectors, pages that stay on the first page's revision, exact revisions."""

from __future__ import annotations

import base64
import threading

import orjson
import pytest

from berth.store import Expired, FieldSelector, LabelSelector, ListPage, Store, StoreError
from tests.store.common import NODES, PODS, WORKLOADS, workload


def names(page: ListPage) -> list[str]:
    return [f'{item["metadata"]["namespace"]}/{item["metadata"]["name"]}' for item in page.items]


def read_all(store: Store, namespace: str | None, limit: int, **kwargs) -> tuple[list[dict], list[ListPage]]:
    pages = [store.list(WORKLOADS, namespace, limit=limit, **kwargs)]
    while pages[-1].continue_token:
        pages.append(store.list(WORKLOADS, namespace, limit=limit, continue_token=pages[-1].continue_token,
                                **kwargs))
    return [item for page in pages for item in page.items], pages


@pytest.fixture
def populated(store: Store) -> Store:
    """team-b/b2, team-a/a3, team-a/a1, team-b/b1 (created out of order), a pod and a node."""
    for ns, name in [("team-b", "b2"), ("team-a", "a3"), ("team-a", "a1"), ("team-b", "b1")]:
        store.create(WORKLOADS, ns, name, workload(name, ns, team=ns, idx=name[1]))
    store.create(PODS, "team-a", "p", {"metadata": {"name": "p", "namespace": "team-a"}})
    store.create(NODES, "", "n1", {"metadata": {"name": "n1"}})
    return store


def test_list_is_sorted_by_namespace_then_name(populated: Store) -> None:
    page = populated.list(WORKLOADS, None)
    assert names(page) == ["team-a/a1", "team-a/a3", "team-b/b1", "team-b/b2"]
    assert page.revision == populated.revision() == 6
    assert page.continue_token is None and page.remaining is None
    assert names(populated.list(WORKLOADS, "team-b")) == ["team-b/b1", "team-b/b2"]
    assert populated.list(WORKLOADS, "team-c").items == []
    assert [i["metadata"]["name"] for i in populated.list(NODES, None).items] == ["n1"]
    assert [i["metadata"]["name"] for i in populated.list(NODES, "").items] == ["n1"]


def test_list_filters_by_label_and_field_selectors(populated: Store) -> None:
    assert names(populated.list(WORKLOADS, None, label_selector=LabelSelector.parse("team=team-b"))) == \
        ["team-b/b1", "team-b/b2"]
    assert names(populated.list(WORKLOADS, None, label_selector=LabelSelector.parse("idx in (1),team!=team-b"))) == \
        ["team-a/a1"]
    assert names(populated.list(WORKLOADS, None, field_selector=FieldSelector.parse("metadata.name=b1"))) == \
        ["team-b/b1"]
    assert names(populated.list(WORKLOADS, None, field_selector=FieldSelector.parse("metadata.namespace=team-a"))) == \
        ["team-a/a1", "team-a/a3"]
    assert names(populated.list(WORKLOADS, "team-a", field_selector=FieldSelector.parse("metadata.name!=a1"))) == \
        ["team-a/a3"]
    assert populated.list(WORKLOADS, "team-a", field_selector=FieldSelector.parse("metadata.name=b1")).items == []
    both = populated.list(WORKLOADS, None, label_selector=LabelSelector.parse("team=team-a"),
                          field_selector=FieldSelector.parse("metadata.name=a3"))
    assert names(both) == ["team-a/a3"]


def test_pages_cover_the_list_once_and_count_what_remains(populated: Store) -> None:
    items, pages = read_all(populated, None, limit=3)
    assert [len(p.items) for p in pages] == [3, 1]
    assert pages[0].remaining == 1
    assert pages[1].continue_token is None and pages[1].remaining is None
    assert [i["metadata"]["name"] for i in items] == ["a1", "a3", "b1", "b2"]
    exact, pages = read_all(populated, None, limit=2)
    assert [len(p.items) for p in pages] == [2, 2]
    assert pages[0].remaining == 2
    assert len(exact) == 4
    assert populated.list(WORKLOADS, None, limit=0).continue_token is None  # 0: no limit
    assert len(populated.list(WORKLOADS, None, limit=0).items) == 4


def test_pages_with_selectors_hold_up_to_limit_matches(populated: Store) -> None:
    selector = LabelSelector.parse("idx in (1,2)")  # a1, b1, b2
    items, pages = read_all(populated, None, limit=2, label_selector=selector)
    assert [i["metadata"]["name"] for i in items] == ["a1", "b1", "b2"]
    assert len(pages[0].items) == 2 and pages[0].remaining is None


def test_a_paged_list_is_a_snapshot_of_its_first_revision(store: Store) -> None:
    for i in range(10):
        store.create(WORKLOADS, "team-a", f"w{i}", workload(f"w{i}", gen="0"))
    first = store.list(WORKLOADS, "team-a", limit=4)
    snapshot_rev = first.revision
    expected = store.list(WORKLOADS, "team-a").items

    # Between pages: create before and after the cursor, update and delete on both sides, recreate one.
    store.create(WORKLOADS, "team-a", "w00", workload("w00"))
    store.create(WORKLOADS, "team-a", "w99", workload("w99"))
    store.update(WORKLOADS, "team-a", "w1", workload("w1", gen="1"))
    store.update(WORKLOADS, "team-a", "w8", workload("w8", gen="1"))
    store.delete(WORKLOADS, "team-a", "w2")
    store.delete(WORKLOADS, "team-a", "w7")
    store.delete(WORKLOADS, "team-a", "w6")
    store.create(WORKLOADS, "team-a", "w6", workload("w6", gen="2"))
    second = store.list(WORKLOADS, "team-a", limit=4, continue_token=first.continue_token)
    store.update(WORKLOADS, "team-a", "w9", workload("w9", gen="1"))
    store.delete(WORKLOADS, "team-a", "w5")
    third = store.list(WORKLOADS, "team-a", limit=4, continue_token=second.continue_token)

    assert second.revision == third.revision == snapshot_rev
    assert third.continue_token is None
    assert first.items + second.items + third.items == expected
    assert second.remaining == 2
    assert store.list(WORKLOADS, "team-a", resource_version=snapshot_rev).items == expected
    now = [i["metadata"]["name"] for i in store.list(WORKLOADS, "team-a").items]
    assert now == ["w0", "w00", "w1", "w3", "w4", "w6", "w8", "w9", "w99"]


def test_list_at_an_exact_revision_shows_the_state_then(populated: Store) -> None:
    populated.update(WORKLOADS, "team-a", "a1", workload("a1", "team-a", changed="yes"))  # rev 7
    populated.delete(WORKLOADS, "team-b", "b2")                                          # rev 8
    assert names(populated.list(WORKLOADS, None, resource_version=0)) == []
    assert names(populated.list(WORKLOADS, None, resource_version=2)) == ["team-a/a3", "team-b/b2"]
    at6 = populated.list(WORKLOADS, None, resource_version=6)
    assert names(at6) == ["team-a/a1", "team-a/a3", "team-b/b1", "team-b/b2"]
    assert at6.revision == 6
    assert at6.items[0]["metadata"]["labels"] == {"team": "team-a", "idx": "1"}
    at8 = populated.list(WORKLOADS, None, resource_version=8)
    assert names(at8) == ["team-a/a1", "team-a/a3", "team-b/b1"]
    assert at8.items[0]["metadata"]["labels"]["changed"] == "yes"
    paged = populated.list(WORKLOADS, "team-b", resource_version=6, limit=1)
    assert names(paged) == ["team-b/b1"] and paged.remaining == 1
    rest = populated.list(WORKLOADS, "team-b", continue_token=paged.continue_token)
    assert names(rest) == ["team-b/b2"]
    selected = populated.list(WORKLOADS, None, resource_version=6, label_selector=LabelSelector.parse("idx=2"))
    assert names(selected) == ["team-b/b2"]


def test_a_revision_not_reached_yet_is_refused(populated: Store) -> None:
    with pytest.raises(StoreError, match="too large resource version: 99, current: 6"):
        populated.list(WORKLOADS, None, resource_version=99)


def test_compacted_revisions_and_tokens_are_expired(store: Store) -> None:
    for i in range(6):
        store.create(WORKLOADS, "team-a", f"w{i}", workload(f"w{i}"))
    first = store.list(WORKLOADS, "team-a", limit=2)  # at revision 6
    for i in range(6):
        store.update(WORKLOADS, "team-a", f"w{i}", workload(f"w{i}", v="2"))  # 7..12
    assert store.compact(keep=6) == 6
    second = store.list(WORKLOADS, "team-a", limit=2, continue_token=first.continue_token)  # 6 is still kept
    assert [i["metadata"]["resourceVersion"] for i in second.items] == ["3", "4"]
    assert store.compact(keep=2) == 10
    with pytest.raises(Expired) as info:
        store.list(WORKLOADS, "team-a", limit=2, continue_token=second.continue_token)
    assert str(info.value) == "too old resource version: 6 (10)"
    with pytest.raises(Expired, match=r"^too old resource version: 9 \(10\)$"):
        store.list(WORKLOADS, "team-a", resource_version=9)
    assert len(store.list(WORKLOADS, "team-a", resource_version=10).items) == 6


def token(data: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode()


@pytest.mark.parametrize("bad", [
    "not a token!",
    "eyJ",
    token([1, 2]),
    token({"v": 1, "rv": "5", "ns": "", "name": "x"}),
    token({"v": 2, "rv": 5, "ns": "", "name": "x"}),
    token({"v": 1, "rv": -1, "ns": "", "name": "x"}),
    token({"v": 1, "rv": 5, "ns": None, "name": "x"}),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_a_malformed_continue_token_is_a_store_error(populated: Store, bad: str) -> None:
    with pytest.raises(StoreError, match="invalid continue token") as info:
        populated.list(WORKLOADS, None, continue_token=bad)
    assert type(info.value) is StoreError


def test_a_token_with_a_resource_version_is_refused(populated: Store) -> None:
    first = populated.list(WORKLOADS, None, limit=1)
    with pytest.raises(StoreError, match="not allowed when using continue"):
        populated.list(WORKLOADS, None, continue_token=first.continue_token, resource_version=first.revision)


def test_name_and_namespace_field_selectors_work_with_pages_and_old_revisions(store: Store) -> None:
    for ns in ("team-a", "team-b", "team-c"):
        for name in ("x", "y"):
            store.create(WORKLOADS, ns, name, workload(name, ns, v="1"))          # 1..6
    store.update(WORKLOADS, "team-b", "x", workload("x", "team-b", v="2"))        # 7
    store.delete(WORKLOADS, "team-c", "x")                                        # 8
    by_name = FieldSelector.parse("metadata.name=x")
    first = store.list(WORKLOADS, None, field_selector=by_name, limit=1)
    assert names(first) == ["team-a/x"] and first.remaining is None
    store.delete(WORKLOADS, "team-b", "x")                                        # 9, after the first page
    rest = store.list(WORKLOADS, None, field_selector=by_name, limit=1, continue_token=first.continue_token)
    assert names(rest) == ["team-b/x"] and rest.items[0]["metadata"]["labels"]["v"] == "2"
    assert rest.continue_token is None  # team-c/x was already deleted at the first page's revision
    assert names(store.list(WORKLOADS, None, field_selector=by_name, resource_version=6)) == \
        ["team-a/x", "team-b/x", "team-c/x"]
    in_b = FieldSelector.parse("metadata.namespace=team-b,metadata.name!=y")
    assert names(store.list(WORKLOADS, None, field_selector=in_b, resource_version=7)) == ["team-b/x"]
    assert names(store.list(WORKLOADS, None, field_selector=in_b)) == []
    assert names(store.list(WORKLOADS, "team-a", field_selector=in_b)) == []  # namespaces disagree


def test_a_list_reads_one_snapshot_while_a_writer_commits(store: Store) -> None:
    """The revision a list reports and its items come from the same committed state."""
    for i in range(200):
        store.create(WORKLOADS, "team-a", f"w{i:03d}", workload(f"w{i:03d}"))
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            store.update(WORKLOADS, "team-a", f"w{i % 200:03d}", workload(f"w{i % 200:03d}", i=str(i)))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(30):
            page = store.list(WORKLOADS, "team-a")
            revisions = [int(item["metadata"]["resourceVersion"]) for item in page.items]
            assert len(page.items) == 200 and max(revisions) <= page.revision
            assert page.items == store.list(WORKLOADS, "team-a", resource_version=page.revision).items
    finally:
        stop.set()
        thread.join()
