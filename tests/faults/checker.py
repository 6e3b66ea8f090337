"""The checker of the kill -9 test: what clients were told, set against what the store kept.

Pure functions over plain records, so that the rules are read in one place and the checker itself is tested
on histories with a lost write, a gap, a duplicate and a reordering (tests/faults/test_checker.py).

The rules:
* A write a client saw acknowledged (a 2xx) is in the history at the revision it was told, with the content
  it sent; after the restart its key holds that content at that revision, unless the client's next write
  to the key was in flight at the kill (then either state is right: the client never learned which).
* Nothing is invented: every change to a client's key in the history is a write it sent.
* A watcher's events, before and after its resume, are exactly the history after its start revision: no
  gap, no duplicate, in revision order. A watcher whose resume point was compacted away (410) relists,
  and the list must be the state of the history at the list's revision; its events after that continue
  from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    """One change: the watch event's type, the object's name, its resourceVersion and its `data.v`."""

    type: str
    name: str
    rv: int
    value: str | None


@dataclass(frozen=True)
class Write:
    """A write a client sent: `rv` and `acked` are known only when the server answered with a 2xx."""

    op: str  # "ADDED", "MODIFIED", "DELETED": the event it must cause
    name: str
    value: str | None
    rv: int | None = None
    acked: bool = True


@dataclass
class Watcher:
    """What one watcher saw: events before the kill, and after its resume (or its relist)."""

    start: int
    before: list[Event] = field(default_factory=list)
    after: list[Event] = field(default_factory=list)
    #: After a 410: the list it read instead, name -> (rv, value), and the list's revision.
    relist: dict[str, tuple[int, str | None]] | None = None
    relist_rv: int | None = None


class Violation(AssertionError):
    """A broken promise, in words that say which write or event and what was expected."""


def state_at(history: list[Event], revision: int) -> dict[str, tuple[int, str | None]]:
    """name -> (rv, value) of the live objects after every event up to `revision`."""
    state: dict[str, tuple[int, str | None]] = {}
    for event in history:
        if event.rv > revision:
            break
        if event.type == "DELETED":
            state.pop(event.name, None)
        else:
            state[event.name] = (event.rv, event.value)
    return state


def check_writes(writes: list[Write], history: list[Event], final: dict[str, tuple[int, str | None]]) -> int:
    """Every acknowledged write is in `history` as told and survives in `final` (name -> (rv, value), the
    list after the restart), and the history holds no change to these keys that no client sent; returns how
    many acknowledged writes were checked."""
    by_rv = {event.rv: event for event in history}
    by_key: dict[str, list[Write]] = {}
    for w in writes:
        by_key.setdefault(w.name, []).append(w)
    sent = {(w.op, w.name, w.value) for w in writes}
    for event in history:
        if event.name in by_key and (event.type, event.name, event.value) not in sent:
            raise Violation(f"the history has {event.type} {event.name}={event.value} at {event.rv}, "
                            "which no client sent")
    checked = 0
    for name, sequence in by_key.items():
        if any(not w.acked for w in sequence[:-1]):
            raise Violation(f"{name}: a write after one in flight (a client stops at its first unanswered write)")
        acked = [w for w in sequence if w.acked]
        for w in acked:
            event = by_rv.get(w.rv if w.rv is not None else -1)
            if event is None or (event.type, event.name, event.value) != (w.op, w.name, w.value):
                raise Violation(f"acknowledged {w.op} {name}={w.value} at {w.rv} is not in the history "
                                f"(found {event})")
            checked += 1
        last = acked[-1] if acked else None
        told = None if last is None or last.op == "DELETED" else (last.rv, last.value)
        in_flight = None if sequence[-1].acked else sequence[-1]
        found = final.get(name)
        if found == told:
            continue
        if in_flight is not None:
            if in_flight.op == "DELETED" and found is None:
                continue
            if (in_flight.op != "DELETED" and found is not None and found[1] == in_flight.value
                    and found[0] > (last.rv if last is not None and last.rv is not None else 0)):
                continue
        raise Violation(f"{name}: after the restart {found}, but the last acknowledged write was {last} "
                        f"(in flight at the kill: {in_flight})")
    return checked


def check_watcher(watcher: Watcher, history: list[Event], label: str) -> int:
    """The watcher saw the whole history after its start (`history` ends with the last event it waited for)
    without gap, duplicate or reordering, through a consistent relist after a 410; returns how many events
    (and relisted objects) were checked."""
    expected = [e for e in history if e.rv > watcher.start]
    _same(watcher.before, expected[:len(watcher.before)], f"{label} before the kill")
    if watcher.relist is None:
        resumed_from = watcher.before[-1].rv if watcher.before else watcher.start
    else:
        assert watcher.relist_rv is not None
        want = state_at(history, watcher.relist_rv)
        if watcher.relist != want:
            missing = sorted(set(want) - set(watcher.relist))
            extra = sorted(set(watcher.relist) - set(want))
            raise Violation(f"{label}: the relist at {watcher.relist_rv} differs from the history's state "
                            f"(missing {missing[:5]}, extra {extra[:5]}, {len(want)} expected)")
        resumed_from = watcher.relist_rv
    _same(watcher.after, [e for e in history if e.rv > resumed_from], f"{label} after the restart")
    return len(watcher.before) + len(watcher.after) + len(watcher.relist or {})


def _same(seen: list[Event], expected: list[Event], label: str) -> None:
    for i, (got, want) in enumerate(zip(seen, expected)):
        if got != want:
            raise Violation(f"{label}: event {i} is {got}, the history has {want} "
                            f"({'a gap' if got.rv > want.rv else 'a duplicate or reordering'})")
    if len(seen) != len(expected):
        raise Violation(f"{label}: {len(seen)} events, the history has {len(expected)}")
