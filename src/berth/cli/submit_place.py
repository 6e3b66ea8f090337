"""Where a submit flag's value goes in the object being built: plain `{value: ...}` fields, items of itemized
fields, and the placements of flags that set more than one field or depend on another flag
(`--gpu-devices-request` with `--gpu-portion-request`, `--nfs-server` with `-v`). Used by the mapping,
`berth.cli.submit_flags`; pure, like it.

Item labels follow Run:ai's CLI where its objects show them (`pvc--0`, `pvc--1`, ...); other itemized flags
number theirs (`port-0`, `volume-0`) or take the label from the value (`--git-sync name=code`, `-e NAME=...`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from berth.cli import submit_parse as p


@dataclass
class Placing:
    """What a row's placement works on: the object being built and the warnings for the user."""

    obj: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def spec(self) -> dict[str, Any]:
        return self.obj["spec"]


Place = Callable[[Placing, str, Any], None]  # (placing, target path, parsed value)


# ---------------------------------------------------------------------------------------------------------
# Placements
# ---------------------------------------------------------------------------------------------------------


def at(obj: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *parents, last = path.split(".")
    for part in parents:
        obj = obj.setdefault(part, {})
    return obj, last


def set_value(placing: Placing, path: str, value: Any) -> None:
    parent, last = at(placing.obj, path)
    parent[last] = {"value": value}


def get_value(placing: Placing, path: str) -> Any:
    parent, last = at(placing.obj, path)
    return (parent.get(last) or {}).get("value")


def add_item(placing: Placing, path: str, label: str, value: Any) -> None:
    parent, last = at(placing.obj, path)
    items = parent.setdefault(last, {"items": {}})["items"]
    unique, n = label, 1
    while unique in items:
        n += 1
        unique = f"{label}-{n}"
    items[unique] = {"value": value}


def item_count(placing: Placing, path: str) -> int:
    parent, last = at(placing.obj, path)
    return len((parent.get(last) or {}).get("items") or {})


def topology(rule: str) -> Place:
    def place(placing: Placing, path: str, key: Any) -> None:
        set_value(placing, "spec.podAffinity", True)
        set_value(placing, "spec.podAffinitySchedulingRule", rule)
        set_value(placing, "spec.podAffinityTopology", key)

    return place


def root_of(path: str) -> str:
    return path.split(".", 1)[0]


def whole(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and number >= 1 else None


def devices(placing: Placing, path: str, count: Any) -> None:
    """`--gpu-devices-request N`: N whole GPUs, or N devices each giving the share a portion or memory request
    asks for (gpuDevices beside gpu or gpuMemory)."""
    root = root_of(path)
    shared = get_value(placing, f"{root}.gpuMemory") is not None or (
        get_value(placing, f"{root}.gpu") is not None and whole(get_value(placing, f"{root}.gpu")) is None)
    if shared:
        if count > 1:
            set_value(placing, f"{root}.gpuDevices", count)
    else:
        set_value(placing, path, str(count))


def share(placing: Placing, path: str, value: Any) -> None:
    """A portion (gpu) or GPU memory (gpuMemory) per device: a whole number of GPUs already given by
    `--gpu-devices-request` becomes the number of devices that each give that share."""
    root = root_of(path)
    devices = whole(get_value(placing, f"{root}.gpu"))
    if devices is not None:
        placing.obj[root].pop("gpu")
        if devices > 1:
            set_value(placing, f"{root}.gpuDevices", devices)
    set_value(placing, path, value)


def node_pools(placing: Placing, path: str, pools: Any) -> None:
    before = get_value(placing, path)
    set_value(placing, path, f"{before} {pools}" if before else pools)


def arguments(placing: Placing, path: str, words: Any) -> None:
    before = get_value(placing, path)
    set_value(placing, path, f"{before} {words}" if before else words)


def nfs_server(placing: Placing, path: str, server: Any) -> None:
    """`--nfs-server HOST`: the server of every `-v` volume that names none."""
    items = (placing.spec.get("volumes") or {}).get("items") or {}
    if not items:
        placing.warnings.append("--nfs-server: no --volume to apply it to; it is ignored")
    for item in items.values():
        item["value"].setdefault("nfsServer", server)


def host_path(placing: Placing, path: str, member: Any) -> None:
    member = dict(member)
    if member.pop("propagation", None) == "HostToContainer":
        set_value(placing, "spec.mountPropagation", True)
    add_item(placing, path, f"volume-{item_count(placing, path)}", member)


def serving_port(placing: Placing, path: str, member: Any) -> None:
    member = dict(member)
    extra = sorted(k for k in member if k != "container")
    if extra:
        placing.warnings.append(f"--serving-port: {', '.join(extra)} are accepted but not honoured by Berth "
                                "(its inference Service is reached as the cluster reaches any Service)")
    add_item(placing, path, "serving-port", {"container": member["container"]})


def external_url(placing: Placing, path: str, member: Any) -> None:
    member = dict(member)
    if member.pop("authorizedGroups", None):
        placing.warnings.append("--external-url: authgroups is accepted but not honoured by Berth")
    if "authorizedUsers" in member:
        member["authorizedUsers"] = member["authorizedUsers"].replace(":", " ")
    add_item(placing, path, f"url-{item_count(placing, path)}", member)


# ---------------------------------------------------------------------------------------------------------
# Item labels: how each itemized flag names its items
# ---------------------------------------------------------------------------------------------------------


def keyed(parsed: Any, n: int) -> tuple[str, Any]:
    return parsed  # (key, value) from p.pair


def numbered(prefix: str) -> Callable[[Any, int], tuple[str, Any]]:
    def label(parsed: Any, n: int) -> tuple[str, Any]:
        return f"{prefix}{n}", parsed

    return label


def named_or(prefix: str, secret_member: str | None = None) -> Callable[[Any, int], tuple[str, Any]]:
    """The item label from `name=` (CLI v2's git-sync and s3), else numbered."""

    def label(parsed: Any, n: int) -> tuple[str, Any]:
        member = dict(parsed)
        name = member.pop("name", None)
        secret = member.pop("secret", None) if secret_member else None
        if secret:
            member[secret_member] = f"SECRET:{secret},password"
        return (p.label_of(name) if name else f"{prefix}{n}"), member

    return label


def by_value(parsed: Any, n: int) -> tuple[str, Any]:
    return p.label_of(parsed), parsed


def by_resource(parsed: Any, n: int) -> tuple[str, Any]:
    return p.label_of(parsed["resource"]), parsed


def attach(placing: Placing, path: str, value: Any) -> None:
    """`--attach`: tty and stdin, as Run:ai sets them; attaching is `berth attach`'s."""
    set_value(placing, "spec.tty", True)
    set_value(placing, "spec.stdin", True)
    placing.warnings.append("--attach: Berth does not attach at submit; run `berth attach NAME` once it runs "
                            "(tty and stdin are set)")
