"""Container log files: what the log relay writes is what pods/log gives back, line for line and with the
time each line came."""

from __future__ import annotations

from berth.api import podlog

T0 = 1_795_000_000_000_000_000  # ns since the epoch


def test_lines_come_back_as_written_with_their_time():
    data = podlog.records(b"stdout", b"one\ntwo\n", ns=T0) + podlog.records(b"stderr", b"oops\n", ns=T0 + 5)
    lines = podlog.parse(data)
    assert [(line.content, line.stream, line.ns) for line in lines] == [
        (b"one", b"stdout", T0), (b"two", b"stdout", T0), (b"oops", b"stderr", T0 + 5)]
    assert podlog.render(lines) == b"one\ntwo\noops\n"
    assert podlog.timestamp(T0 + 5) == b"2026-11-18T11:06:40.000000005Z"
    assert podlog.render(lines[2:], timestamps=True) == b"2026-11-18T11:06:40.000000005Z oops\n"


def test_a_line_written_in_parts_is_one_line_with_the_time_of_its_first_part():
    data = (podlog.records(b"stdout", b"epoch 1: ", ns=T0) + podlog.records(b"stderr", b"warning\n", ns=T0 + 1)
            + podlog.records(b"stdout", b"done\nnext", ns=T0 + 2))
    lines = podlog.parse(data)
    assert [line.content for line in lines] == [b"epoch 1: done", b"warning", b"next"]
    assert lines[0].ns == T0 and not lines[2].complete
    assert podlog.render(lines) == b"epoch 1: done\nwarning\nnext"


def test_carriage_returns_stay_in_the_line_as_a_terminal_would_show_them():
    assert [line.content for line in podlog.parse(podlog.records(b"stdout", b"10%\r50%\r100%\n"))] == [
        b"10%\r50%\r100%"]


def test_since_and_tail_select_lines_and_lines_without_a_time_are_served_as_they_are():
    data = b"written by hand\n" + podlog.records(b"stdout", b"a\n", ns=T0) + podlog.records(b"stdout", b"b\n",
                                                                                        ns=T0 + 10)
    lines = podlog.parse(data)
    assert podlog.render(lines) == b"written by hand\na\nb\n"
    assert podlog.render(podlog.select(lines, since_ns=T0 + 1)) == b"b\n"
    assert podlog.render(podlog.select(lines, tail=2)) == b"a\nb\n"
    assert podlog.select(lines, tail=0) == []


def test_a_record_still_being_written_waits_for_the_next_read():
    data = podlog.records(b"stdout", b"a\nb\n", ns=T0)
    cut = data[:-3]
    assert podlog.whole(cut) == data.index(b"\n") + 1
    assert podlog.render(podlog.parse(cut)) == b"a\n"


def test_follow_prints_parts_as_they_come_and_the_time_once_per_line():
    follow = podlog.Follow(timestamps=True)
    stamp = podlog.timestamp(T0).decode()
    assert follow.feed(podlog.records(b"stdout", b"loading", ns=T0)) == f"{stamp} loading".encode()
    assert follow.feed(podlog.records(b"stdout", b"... ok\n", ns=T0 + 1)) == b"... ok\n"
    assert follow.feed(podlog.records(b"stdout", b"x\n", ns=T0)) == f"{stamp} x\n".encode()


def test_an_unfinished_line_followed_by_other_output_ends_where_it_stopped():
    data = podlog.records(b"stderr", b"10%", ns=T0) + podlog.records(b"stdout", b"epoch 1\n", ns=T0 + 1)
    lines = podlog.parse(data)
    assert podlog.render(lines) == b"10%\nepoch 1\n" and podlog.unfinished(lines) == set()
    tail = podlog.parse(podlog.records(b"stdout", b"a\nloading", ns=T0))
    assert podlog.render(tail) == b"a\nloading" and podlog.unfinished(tail) == {b"stdout"}


def test_following_goes_on_with_a_line_left_open_and_ends_it_when_the_container_restarts():
    follow = podlog.Follow(timestamps=True, open_streams={b"stdout"})
    assert follow.feed(podlog.records(b"stdout", b" done\n", ns=T0)) == b" done\n"
    follow.feed(podlog.records(b"stdout", b"half", ns=T0))
    assert follow.restart() == b"\n" and follow.restart() == b""


def test_times_are_read_as_rfc_3339_to_the_nanosecond():
    assert podlog.parse_time("2026-11-18T11:06:40.000000005Z") == T0 + 5
    assert podlog.parse_time("2026-11-18T12:06:40.123+01:00") == T0 + 123_000_000
    assert podlog.parse_time("2026-11-18T11:06:40") is None  # no zone: not RFC 3339
    assert podlog.parse_time("yesterday") is None
