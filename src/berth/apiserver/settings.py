"""The settings of the API server's per-client limits and of its audit log, with their defaults: one place
that `berth up`'s flags, `berth.apiserver.limits` and `berth.apiserver.audit` share, light enough that
`berth --help` imports it without the server.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Far above what kubectl (a few requests per command; discovery is two aggregated requests) or the berth
#: CLI ask for, so that only a runaway client meets them.
DEFAULT_RATE = 100.0
DEFAULT_BURST = 400
DEFAULT_MAX_WATCHES = 100
#: kubectl's own --chunk-size default: kubectl never notices the cap.
DEFAULT_MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Limits:
    """The limits one API server applies, per client identity (0 turns a limit off)."""

    rate: float = DEFAULT_RATE  # requests a second
    burst: int = DEFAULT_BURST  # requests at once
    max_watches: int = DEFAULT_MAX_WATCHES  # open watch streams
    max_page_size: int = DEFAULT_MAX_PAGE_SIZE  # items in one list page (for every client)
    limit_admin: bool = False  # also limit the control plane's own admin token


@dataclass(frozen=True)
class AuditSettings:
    """How `berth up` keeps its audit log (kube-apiserver's --audit-log-maxsize and --audit-log-maxbackup)."""

    max_size: int = 10 * 2**20  # bytes of one file before it is rotated
    max_backups: int = 5  # rotated files kept besides audit.log
    reads: bool = False  # also record get, list and watch
