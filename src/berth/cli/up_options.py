"""`berth up`'s flags for per-client limits and the audit log (docs/limits-and-audit.md), kept out of
`berth.cli.main` so that the command's own options stay readable; defaults come from
`berth.apiserver.settings`, their one source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from berth.apiserver.settings import (
    DEFAULT_BURST,
    DEFAULT_MAX_PAGE_SIZE,
    DEFAULT_MAX_WATCHES,
    DEFAULT_RATE,
    AuditSettings,
    Limits,
)

F = TypeVar("F", bound=Callable[..., Any])
MIB = 2**20
_AUDIT = AuditSettings()

_OPTIONS = [
    click.option("--rate-limit", type=click.FloatRange(0), default=DEFAULT_RATE, show_default=True,
                 help="Requests a second each client (user or token) may make; more are answered 429 with "
                      "Retry-After. 0: no limit."),
    click.option("--rate-burst", type=click.IntRange(1), default=DEFAULT_BURST, show_default=True,
                 help="Requests a client may make at once before --rate-limit applies."),
    click.option("--max-watches", type=click.IntRange(0), default=DEFAULT_MAX_WATCHES, show_default=True,
                 help="Watches a client may hold open at once; the next is answered 429. 0: no limit."),
    click.option("--max-page-size", type=click.IntRange(0), default=DEFAULT_MAX_PAGE_SIZE, show_default=True,
                 help="Most items in one list page: a larger ?limit= is lowered to it (the reply continues). "
                      "0: no cap."),
    click.option("--rate-limit-admin", is_flag=True,
                 help="Apply the rate and watch limits to the admin token too (Berth's own components use it)."),
    click.option("--audit-log-maxsize", type=click.IntRange(1), default=_AUDIT.max_size // MIB, show_default=True,
                 help="MiB of <data-dir>/audit/audit.log before it is rotated."),
    click.option("--audit-log-maxbackup", type=click.IntRange(0), default=_AUDIT.max_backups, show_default=True,
                 help="Rotated audit logs kept (audit.log.1 is the newest)."),
    click.option("--audit-log-reads", is_flag=True, help="Also record reads (get, list, watch) in the audit log."),
]


def limit_options(command: F) -> F:
    """Add the flags above to a command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def server_limits(rate_limit: float, rate_burst: int, max_watches: int, max_page_size: int, rate_limit_admin: bool,
                  audit_log_maxsize: int, audit_log_maxbackup: int, audit_log_reads: bool) -> dict[str, Any]:
    """The flags' values as the API server's `Config` takes them (`limits`, `audit`)."""
    return {
        "limits": Limits(rate=rate_limit, burst=rate_burst, max_watches=max_watches, max_page_size=max_page_size,
                         limit_admin=rate_limit_admin),
        "audit": AuditSettings(max_size=audit_log_maxsize * MIB, max_backups=audit_log_maxbackup,
                               reads=audit_log_reads),
    }
