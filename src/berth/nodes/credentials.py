"""Which user a container's process runs as on the local node: the pod's `securityContext` (`runAsUser`,
`runAsGroup`, `supplementalGroups`; a container's own `runAsUser` and `runAsGroup` win), as far as this
machine allows.

- Nothing asked, or what is asked is who `berth up` already is: the process runs as `berth up` does.
- `berth up` runs as root: the process runs as the user asked, with the group asked (0 when none is
  given, as a container runtime does) and the supplementary groups; its scratch directory is handed to
  that user so that it can write there.
- `runAsNonRoot` with the process about to run as root (no `runAsUser`, and `berth up` is root; or
  `runAsUser: 0`): the container is not started, as a kubelet refuses it (CreateContainerConfigError).
- Otherwise this machine cannot switch users: the process runs as `berth up`'s user, and the pod gets a
  Warning event that says so (running it anyway is what one expects of a workstation; the event keeps it
  honest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Credentials:
    """What to start the process with (None: as `berth up`), and a warning when the pod asked for more."""

    user: int | None = None
    group: int | None = None
    extra_groups: tuple[int, ...] = field(default_factory=tuple)
    warning: str = ""
    refusal: str = ""  # the container must not start (runAsNonRoot, and it would run as root)

    def popen(self) -> dict[str, Any]:
        """Keyword arguments for `subprocess.Popen`."""
        if self.user is None:
            return {}
        return {"user": self.user, "group": self.group, "extra_groups": list(self.extra_groups)}


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _first(*values: Any) -> int | None:
    return next((v for v in map(_id, values) if v is not None), None)


def asked(pod: Obj, container: Obj) -> tuple[int | None, int | None, tuple[int, ...]]:
    """(runAsUser, runAsGroup, supplementalGroups) the pod asks for this container."""
    pod_security = (pod.get("spec") or {}).get("securityContext") or {}
    own = container.get("securityContext") or {}
    user = _first(own.get("runAsUser"), pod_security.get("runAsUser"))
    group = _first(own.get("runAsGroup"), pod_security.get("runAsGroup"))
    groups = tuple(g for g in map(_id, pod_security.get("supplementalGroups") or []) if g is not None)
    return user, group, groups


def non_root(pod: Obj, container: Obj) -> bool:
    """Whether `runAsNonRoot` is asked (a container's own setting wins)."""
    own = (container.get("securityContext") or {}).get("runAsNonRoot")
    return bool(own if own is not None else ((pod.get("spec") or {}).get("securityContext") or {}).get("runAsNonRoot"))


def credentials(pod: Obj, container: Obj, *, euid: int, egid: int) -> Credentials:
    """How to run `container` of `pod` when `berth up` runs as `euid`:`egid`."""
    user, group, groups = asked(pod, container)
    if non_root(pod, container) and (user if user is not None else euid) == 0:
        return Credentials(refusal="container has runAsNonRoot and would run as root (uid 0): give runAsUser a "
                           "non-zero uid (runAsUid in a Run:ai workload), or run berth up as another user")
    if user is None and group is None and not groups:
        return Credentials()
    if euid == 0:
        target = euid if user is None else user
        return Credentials(user=target, group=group if group is not None else 0, extra_groups=groups)
    if (user is None or user == euid) and (group is None or group == egid) and not groups:
        return Credentials()
    wanted = ", ".join(f"{name} {value}" for name, value in (("runAsUser", user), ("runAsGroup", group))
                       if value is not None)
    if groups:
        wanted = ", ".join(filter(None, [wanted, f"supplementalGroups {list(groups)}"]))
    return Credentials(warning=f"securityContext asks for {wanted}, but berth up runs as uid {euid} (gid {egid}) "
                       "and cannot switch users, so the container runs as uid "
                       f"{euid}; run berth up as root to honour it")
