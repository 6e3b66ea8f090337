"""The kill -9 test's checker catches what it is there to catch: a lost or changed acknowledged write, an
invented change, and a watcher's gap, duplicate, reordering or inconsistent relist."""

from __future__ import annotations

import pytest

from tests.faults.checker import Event, Violation, Watcher, Write, check_watcher, check_writes

HISTORY = [Event("ADDED", "a", 5, "0"), Event("ADDED", "b", 6, "0"), Event("MODIFIED", "a", 7, "1"),
           Event("DELETED", "b", 8, "0"), Event("ADDED", "c", 9, "0")]
WRITES = [Write("ADDED", "a", "0", 5), Write("MODIFIED", "a", "1", 7), Write("ADDED", "b", "0", 6),
          Write("DELETED", "b", "0", 8), Write("ADDED", "c", "0", acked=False)]
FINAL = {"a": (7, "1"), "c": (9, "0")}


def test_a_consistent_run_passes_and_counts_the_acknowledged_writes():
    assert check_writes(WRITES, HISTORY, FINAL) == 4
    assert check_writes(WRITES, HISTORY, {"a": (7, "1")}) == 4  # the create in flight may be lost


@pytest.mark.parametrize("final", [{"c": (9, "0")}, {"a": (5, "0"), "c": (9, "0")},
                                   {"a": (7, "1"), "b": (6, "0")}], ids=["lost", "rolled-back", "resurrected"])
def test_a_lost_or_changed_acknowledged_write_is_caught(final):
    with pytest.raises(Violation):
        check_writes(WRITES, HISTORY, final)


def test_an_acknowledged_write_missing_from_the_history_or_an_invented_one_is_caught():
    with pytest.raises(Violation, match="not in the history"):
        check_writes(WRITES, [e for e in HISTORY if e.rv != 7], FINAL)
    with pytest.raises(Violation, match="no client sent"):
        check_writes(WRITES, [*HISTORY, Event("MODIFIED", "c", 10, "9")], FINAL)


def test_a_watcher_that_saw_everything_passes():
    watcher = Watcher(4, before=HISTORY[:2], after=HISTORY[2:])
    assert check_watcher(watcher, HISTORY, "w") == 5


@pytest.mark.parametrize("before,after", [
    (HISTORY[:2], HISTORY[3:]),                             # a gap at the resume
    (HISTORY[:2], HISTORY[1:]),                             # a duplicate at the resume
    (HISTORY[:2], [HISTORY[3], HISTORY[2], HISTORY[4]]),    # reordered
    (HISTORY[:2], HISTORY[2:4]),                            # stopped short
], ids=["gap", "duplicate", "reordered", "short"])
def test_a_broken_sequence_is_caught(before, after):
    with pytest.raises(Violation):
        check_watcher(Watcher(4, before=before, after=after), HISTORY, "w")


def test_a_relist_after_410_must_be_the_state_at_its_revision():
    good = Watcher(4, before=HISTORY[:1], after=HISTORY[4:], relist={"a": (7, "1")}, relist_rv=8)
    assert check_watcher(good, HISTORY, "w") == 3
    stale = Watcher(4, before=HISTORY[:1], after=HISTORY[4:], relist={"a": (7, "1"), "b": (6, "0")}, relist_rv=8)
    with pytest.raises(Violation, match="relist"):
        check_watcher(stale, HISTORY, "w")
