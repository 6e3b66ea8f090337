"""`berth down`: stop the `berth up` of a data directory and, with `--workloads`, its workloads' processes.

The `berth up` to stop is the one holding the data directory's lock (`berth.apiserver.startup.holder_of`),
never one found by its name: SIGTERM, as Ctrl-C does, then a wait for the lock to be released (by then its
components, the store and the server have stopped); one that does not stop in `--timeout` seconds is killed.
Workload processes outlive `berth up` on purpose; `berth down` says how many keep running, and with
`--workloads` stops them as deleting their pods would (`berth.nodes.running`), after `berth up` has
stopped, so that no agent restarts them meanwhile.

Nothing running is not an error (exit status 0, and it says so): the state the user asked for holds. A data
directory that does not exist, or is not one `berth up` made, is (exit status 1), since it is most likely
a typo.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

import click

from berth.cli.context import DEFAULT_DATA_DIR

POLL_S = 0.05
KILL_WAIT_S = 5.0  # after SIGKILL, how long the kernel may take to release the lock of the killed process


def _fail(message: str) -> NoReturn:
    click.secho(f"berth down: {message}", fg="red", err=True)
    sys.exit(1)


@click.command(name="down")
@click.option("--data-dir", default=str(DEFAULT_DATA_DIR), show_default=True,
              help="The data directory of the `berth up` to stop (its --data-dir).")
@click.option("--workloads", is_flag=True,
              help="Also stop the workloads' processes: SIGTERM to each pod's process group, SIGKILL after its "
                   "grace period.")
@click.option("--grace", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --workloads: the grace period of every pod instead of its own "
                   "(terminationGracePeriodSeconds, at most 30); 0 kills at once.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="SECONDS", help="How long `berth up` may take to stop before it is killed (SIGKILL).")
def down_command(data_dir: str, workloads: bool, grace: float | None, timeout: float) -> None:
    """Stop the `berth up` running on a data directory; with --workloads, its workloads' processes too.

    Without --workloads the workloads' processes keep running (the next `berth up` adopts them) and
    `berth down` says how many. Exit status 0 also when nothing was running.

    \b
    Examples:
      berth down                              # stop berth up; workload processes keep running
      berth down --workloads                  # and stop them: SIGTERM, SIGKILL after the grace period
      berth down --data-dir /tmp/berth --workloads --grace 5
    """
    from berth.apiserver.startup import LOCK_FILE
    from berth.nodes import running

    if grace is not None and not workloads:
        raise click.UsageError("--grace is the grace period of workload processes; add --workloads to stop them")
    where = Path(data_dir).expanduser()
    if not where.is_dir():
        _fail(f"--data-dir {data_dir}: no such directory; give the data directory of the berth up to stop (its "
              f"--data-dir, {DEFAULT_DATA_DIR} by default)")
    if not (where / LOCK_FILE).exists() and not (where / "nodes").is_dir():
        _fail(f"--data-dir {data_dir}: not a Berth data directory (no {LOCK_FILE}); give the one berth up was "
              "started with")
    _stop_server(where, timeout)
    found = running.running(where)
    if not found:
        click.echo("No workload process is running.")
    elif not workloads:
        click.echo(running.keep_running(where, found))
    else:
        click.echo(f"Stopping {running.count(found)}: SIGTERM, SIGKILL after "
                   + ("each pod's grace period" if grace is None else f"{grace:g} s") + " ...")
        killed = running.stop(found, grace)
        said = f"Stopped {running.count(found)}"
        click.echo(f"{said}; {len(killed)} of them had to be killed (SIGKILL)." if killed else f"{said}.")


def _stop_server(data_dir: Path, timeout: float) -> None:
    """Stop the `berth up` that holds `data_dir`'s lock, saying what happened; nothing when none does."""
    from berth.apiserver.startup import holder_of

    holder = holder_of(data_dir)
    if holder is None:
        click.echo(f"berth up is not running on {data_dir}.")
        return
    deadline = time.monotonic() + 2.0
    while holder is not None and holder.pid is None and time.monotonic() < deadline:  # it is starting
        time.sleep(POLL_S)
        holder = holder_of(data_dir)
    if holder is None:
        click.echo(f"berth up is not running on {data_dir}.")
        return
    if holder.pid is None:
        _fail(f"a berth up holds {data_dir} but has not written its pid; try again in a moment")
    who = f"berth up (pid {holder.pid}, serving {holder.url})"
    if not _signal(holder.pid, signal.SIGTERM, who):
        click.echo(f"{who} had just stopped.")
        return
    if _released(data_dir, timeout):
        click.echo(f"Stopped {who}.")
        return
    _signal(holder.pid, signal.SIGKILL, who)
    if not _released(data_dir, KILL_WAIT_S):
        _fail(f"{who} did not stop, even when killed (SIGKILL); look at it with `ps -o pid,stat,cmd -p {holder.pid}`")
    click.echo(f"{who} did not stop within {timeout:g} s (raise --timeout to wait longer); it was killed (SIGKILL). "
               "Every write it had acknowledged is kept.")


def _signal(pid: int, sig: int, who: str) -> bool:
    """Send `sig` to `pid`; False when it is gone already."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        _fail(f"{who} belongs to another user; stop it as that user")
    return True


def _released(data_dir: Path, timeout: float) -> bool:
    """Whether the data directory's lock is free within `timeout` seconds."""
    from berth.apiserver.startup import holder_of

    deadline = time.monotonic() + timeout
    while holder_of(data_dir) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True
