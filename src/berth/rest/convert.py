"""Value converters and item-member hooks of the REST field mapping (`berth.rest.fields`).

Each converter takes a REST value to the value a `run.ai/v2alpha1` field holds, or back; a value it cannot
take raises `ValueError` with the expected shape, which the mapping turns into a 400 naming the REST field.
Pure functions on plain values, so the mapping is tested on dicts.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from berth.api.types import parse_quantity

Obj = dict[str, Any]

SECRET = "SECRET:"


def same(value: Any) -> Any:
    return value


def number_text(value: Any) -> str:
    """A REST number (2, 0.5) as the quantity string Run:ai's objects write ("2", "0.5")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number, like 2 or 0.5")
    amount = Decimal(str(value))
    if amount < 0:
        raise ValueError("must not be negative")
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format(amount.normalize(), "f")


def quantity_number(value: Any) -> float | int:
    """A quantity ("500m", "2") as a REST number (0.5, 2)."""
    amount = parse_quantity(value)
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def gpu_number(value: Any) -> float | int:
    amount = Decimal(str(value))
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def quantity_text(value: Any) -> str:
    """A REST quantity string ("4G", "512Mi"), checked."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError('expected a quantity string, like "4G" or "512Mi"')
    try:
        if parse_quantity(value) < 0:
            raise ValueError("must not be negative")
    except (ValueError, InvalidOperation):
        raise ValueError(f'{value!r} is not a quantity; write one like "4G" or "512Mi"') from None
    return str(value)


def words(value: Any) -> str:
    """A REST list of strings (nodePools) as Berth's space-separated string."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError('expected a list of names, like ["a100", "v100"]')
    return " ".join(v.strip() for v in value)


def word_list(value: Any) -> list[str]:
    return str(value).split()


def table(mapping: dict[str, str], what: str) -> tuple[Any, Any]:
    """Converters both ways for an enumeration spelled differently on each side."""
    back = {v: k for k, v in mapping.items()}

    def forth(value: Any) -> str:
        if not isinstance(value, str) or value not in mapping:
            raise ValueError(f"{value!r} is not one of {', '.join(mapping)} ({what})")
        return mapping[value]

    def backward(value: Any) -> Any:
        return back.get(value, value)

    return forth, backward


def uid_gid_source(value: Any) -> bool:
    """Run:ai's uidGidSource as Berth's runAsUser: the image's user, or the ids given (custom) or the
    submitting user's (fromIdpToken)."""
    sources = {"fromTheImage": False, "fromIdpToken": True, "custom": True}
    if not isinstance(value, str) or value not in sources:
        raise ValueError(f"{value!r} is not one of {', '.join(sources)}")
    return sources[value]


def label_of(value: str) -> str:
    """An item label made from a value (a capability, a resource): lower case, `-` for anything else."""
    return re.sub(r"[^a-z0-9.-]+", "-", value.lower()).strip("-") or "item"


def secret_ref(secret: Any, key: Any) -> str | None:
    """Run:ai's (Secret name, key) pair as Berth's `SECRET:<secret>,<key>` value."""
    if not secret or not key:
        return None
    return f"{SECRET}{secret},{key}"


def secret_parts(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, str) or not value.startswith(SECRET):
        return None
    secret, _, key = value[len(SECRET):].partition(",")
    return secret.strip(), key.strip()


# ---------------------------------------------------------------------------------------------------------
# Item members that are not one-to-one: hooks (REST item, object member) -> None, mutating the target
# ---------------------------------------------------------------------------------------------------------

ACCESS_MODES = {"readWriteOnce": "ReadWriteOnce", "readOnlyMany": "ReadOnlyMany", "readWriteMany": "ReadWriteMany"}


def pvc_in(item: Obj, member: Obj) -> None:
    """claimInfo: size and storageClass as they are; accessModes (flags) as Berth's one accessMode."""
    info = item.get("claimInfo") or {}
    if not isinstance(info, dict):
        raise ValueError("claimInfo: expected an object {size, storageClass, accessModes, volumeMode}")
    unknown = sorted(set(info) - {"size", "storageClass", "accessModes", "volumeMode"})
    if unknown:
        raise ValueError(f"claimInfo.{unknown[0]}: unknown field (claimInfo takes size, storageClass, "
                         "accessModes and volumeMode)")
    if info.get("size") is not None:
        member["size"] = quantity_text(info["size"])
    if info.get("storageClass") is not None:
        member["storageClass"] = info["storageClass"]
    if info.get("volumeMode") not in (None, "Filesystem"):
        raise ValueError("claimInfo.volumeMode: Berth mounts claims as file systems only (Filesystem)")
    modes = [ACCESS_MODES[k] for k, on in (info.get("accessModes") or {}).items() if on and k in ACCESS_MODES]
    if len(modes) > 1:
        raise ValueError("claimInfo.accessModes: Berth's claims take one access mode; set only one to true")
    if modes:
        member["accessMode"] = modes[0]


def pvc_out(member: Obj, item: Obj) -> None:
    info: Obj = {}
    for key in ("size", "storageClass"):
        if member.get(key) is not None:
            info[key] = str(member[key])
    if member.get("accessMode"):
        info["accessModes"] = {k: True for k, v in ACCESS_MODES.items() if v == member["accessMode"]}
    if info:
        item["claimInfo"] = info


def _secrets_in(item: Obj, member: Obj, holder: str, keys: dict[str, str]) -> None:
    """Run:ai names a Secret (`holder`) and keys of it; Berth's members hold `SECRET:<secret>,<key>`."""
    secret = item.get(holder)
    given = {rest: item.get(rest) for rest in keys}
    if any(given.values()) and not secret:
        raise ValueError(f"{' and '.join(keys)} need {holder}, the Secret holding them")
    if secret and not any(given.values()):
        raise ValueError(f"{holder}: name the keys of the Secret with {' and '.join(keys)}")
    for rest, target in keys.items():
        ref = secret_ref(secret, given[rest])
        if ref:
            member[target] = ref


def _secrets_out(member: Obj, item: Obj, holder: str, keys: dict[str, str]) -> None:
    for rest, source in keys.items():
        parts = secret_parts(member.get(source))
        if parts:
            item[holder], item[rest] = parts


_GIT_KEYS = {"secretKeyOfUser": "username", "secretKeyOfPassword": "password"}
_S3_KEYS = {"secretKeyOfAccessKeyId": "key", "secretKeyOfSecretKey": "secret"}


def git_in(item: Obj, member: Obj) -> None:
    _secrets_in(item, member, "passwordSecret", _GIT_KEYS)


def git_out(member: Obj, item: Obj) -> None:
    _secrets_out(member, item, "passwordSecret", _GIT_KEYS)


def s3_in(item: Obj, member: Obj) -> None:
    _secrets_in(item, member, "accessKeySecret", _S3_KEYS)


def s3_out(member: Obj, item: Obj) -> None:
    _secrets_out(member, item, "accessKeySecret", _S3_KEYS)


def users_in(item: Obj, member: Obj) -> None:
    """authorizedUsers (a list) as Berth's space-separated string; authorizedGroups Berth cannot check."""
    if item.get("authorizedGroups"):
        raise ValueError("authorizedGroups: Berth has no user groups; list the users in authorizedUsers")
    users = item.get("authorizedUsers")
    if users is not None:
        member["authorizedUsers"] = words(users)


def users_out(member: Obj, item: Obj) -> None:
    if member.get("authorizedUsers"):
        item["authorizedUsers"] = word_list(member["authorizedUsers"])


def read_only_default(item: Obj, member: Obj) -> None:
    """Run:ai mounts host paths and NFS exports read-only unless readOnly is false."""
    member["readOnly"] = item.get("readOnly", True) is not False


def read_only_out(member: Obj, item: Obj) -> None:
    item["readOnly"] = bool(member.get("readOnly", False))
