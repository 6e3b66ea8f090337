"""How the everyday commands print: tables, key/value blocks, and objects as JSON or YAML.

On a terminal, tables are drawn with rich (bold headers, wrapped cells, fitted to the terminal's width);
when stdout is not a terminal (a pipe, a file, a test) they are plain text in kubectl's layout: columns
left-aligned and separated by three spaces, one row a line, so that `grep`, `awk` and tests read them.
Nothing here talks to a cluster.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
import yaml

OUTPUTS = ("wide", "json", "yaml")
GAP = "   "


def is_terminal() -> bool:
    return sys.stdout.isatty()


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, title: str | None = None,
          wide: bool = False) -> None:
    """Print a table; `title` (e.g. `Showing workloads for project a`) goes on the line above it. On a
    terminal the table fits its width, wrapping cells; a `wide` one (`-o wide`) keeps its natural width and
    leaves long lines to the terminal, as kubectl's wide output does."""
    rows = [[str(cell) for cell in row] for row in rows]
    if is_terminal():
        from rich import box
        from rich.table import Table

        shown = Table(*headers, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, title=None)
        for row in rows:
            shown.add_row(*row)
        out = console()
        if wide:
            from rich.console import Console
            from rich.measure import Measurement

            unbounded = Console(width=10_000)
            out.width = max(out.width, Measurement.get(unbounded, unbounded.options, shown).maximum)
        if title:
            out.print(title)
        out.print(shown)
        return
    if title:
        click.echo(title)
        click.echo()
    click.echo(plain_table(headers, rows), nl=False)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """kubectl's layout: each column as wide as its widest cell, three spaces between, no trailing blanks."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [GAP.join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [list(headers), *rows]]
    return "".join(line + "\n" for line in lines)


def fields(pairs: Sequence[tuple[str, str]]) -> None:
    """A key/value block (`NAME:  job-1`), keys padded to one width, as `runai describe` prints it."""
    width = max((len(key) for key, _ in pairs), default=0) + 2
    for key, value in pairs:
        click.echo(f"{key + ':':<{width}}{value}".rstrip())


def section(name: str) -> None:
    click.echo()
    if is_terminal():
        click.secho(f"{name}:", bold=True)
    else:
        click.echo(f"{name}:")


def dump(document: Any, output: str) -> None:
    """An object or a list of objects as `-o json` or `-o yaml` (a list as a v1 List, as kubectl does)."""
    if isinstance(document, list):
        document = {"apiVersion": "v1", "kind": "List", "items": document, "metadata": {"resourceVersion": ""}}
    if output == "json":
        click.echo(json.dumps(document, indent=2, sort_keys=False))
    else:
        click.echo(yaml.safe_dump(document, sort_keys=False, default_flow_style=False), nl=False)


def age(timestamp: str | None, now: datetime.datetime | None = None) -> str:
    """How long ago an RFC 3339 time was, as kubectl shows it: 45s, 12m, 5h, 3d ("-" when unknown)."""
    if not timestamp:
        return "-"
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "-"
    seconds = int(((now or datetime.datetime.now(datetime.UTC)) - then).total_seconds())
    return duration(max(seconds, 0))


def duration(seconds: int) -> str:
    """45s, 12m, 5h, 3d: one unit, the next one once two of it have passed (a table has no room for 2m30s)."""
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 120 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def number(value: Any) -> str:
    """A GPU amount: whole numbers without decimals (2), fractions with two (0.50), missing as "-"."""
    if value is None or value == "":
        return "-"
    try:
        found = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(found)) if found == int(found) else f"{found:.2f}"
