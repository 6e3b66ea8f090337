"""The reads the API server's speed depends on are index walks that stop at LIMIT, never table scans or
sorts: checked on SQLite's own query plans, so a schema or query change that loses an index fails here
rather than as a slow list in production."""

from __future__ import annotations

import itertools

import pytest

from berth.store import FieldSelector, Store
from berth.store.sqlite import _list_query  # white-box: the SQL the list builds
from tests.store.common import WORKLOADS, workload


def plan(store: Store, sql: str, params: tuple) -> list[str]:
    return [row[3] for row in store._reader().execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()]


SELECTORS = [None, FieldSelector.parse("metadata.name=x"), FieldSelector.parse("metadata.namespace=a"),
             FieldSelector.parse("status.phase=Running")]


@pytest.mark.parametrize(("namespace", "selector", "after", "latest"), list(itertools.product(
    [None, "a"], SELECTORS, [None, ("a", "m"), ("0", "m")], [True, False])))
def test_list_pages_walk_an_index_in_order(store: Store, namespace, selector, after, latest: bool) -> None:
    for i in range(3):
        store.create(WORKLOADS, "a", f"w{i}", workload(f"w{i}", "a"))
    query = _list_query(WORKLOADS, namespace, selector, after, 2 if not latest else 3, 3)
    assert query is not None
    steps = plan(store, f"SELECT value, ns, name {query[0]} ORDER BY ns, name LIMIT 10", query[1])
    assert len(steps) == 1, steps
    assert steps[0].startswith("SEARCH log USING INDEX log_live" if latest else "SEARCH log USING INDEX log_key")
    if namespace is not None or (selector is not None and "namespace" in str(selector)):
        assert "ns=?" in steps[0]


def test_nothing_follows_a_key_past_the_namespace(store: Store) -> None:
    assert _list_query(WORKLOADS, "a", None, ("b", "x"), 3, 3) is None


def test_get_uses_the_live_key(store: Store) -> None:
    from berth.store.sqlite import _SQL_CURRENT

    assert plan(store, _SQL_CURRENT, ("g", "r", "n", "x")) == \
        ["SEARCH log USING INDEX log_live (grp=? AND resource=? AND ns=? AND name=?)"]


def test_an_update_checks_the_live_revision_without_reading_the_value(store: Store) -> None:
    """The value is the row's last column, so its overflow pages are not read when only rev is asked."""
    from berth.store.sqlite import _SQL_CURRENT_REV

    assert _SQL_CURRENT_REV.startswith("SELECT rev FROM")
    assert plan(store, _SQL_CURRENT_REV, ("g", "r", "n", "x")) == \
        ["SEARCH log USING INDEX log_live (grp=? AND resource=? AND ns=? AND name=?)"]


@pytest.mark.parametrize(("ref", "namespace"), [(None, None), (WORKLOADS, None), (WORKLOADS, "a"), (None, "a")])
def test_changes_walk_the_revisions(store: Store, ref, namespace) -> None:
    from berth.store.sqlite import _changes_query

    steps = plan(store, *_changes_query(5, ref, namespace, 100))
    assert steps == ["SEARCH l USING INTEGER PRIMARY KEY (rowid>?)",
                     "SEARCH p USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN"], steps
