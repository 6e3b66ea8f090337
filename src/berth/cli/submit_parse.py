"""How the text of one submit flag becomes a value of a `run.ai/v2alpha1` field: pure functions, no click.

Each parser takes the text the user typed for one occurrence of a flag and returns the value the mapping
(`berth.cli.submit_flags`) places in the object; bad text raises `FlagValueError` with what was wrong and
the shape the flag expects, and the command names the flag. Run:ai's two CLI generations spell some values
differently (`--port 8080:80` in v1, `--port container=80,external=8080` in v2; `--git-sync source=...` and
`--git-sync repository=...`): one parser takes both, so both generations build the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from berth.api.explain import suggest
from berth.api.types import parse_quantity


class FlagValueError(ValueError):
    """The text of one flag cannot be read; `shape` is what the flag expects."""

    def __init__(self, problem: str, shape: str = "") -> None:
        super().__init__(problem + (f"; expected {shape}" if shape else ""))


Parser = Callable[[str], Any]


def text(value: str) -> str:
    if not value.strip():
        raise FlagValueError("the value is empty", "a non-empty string")
    return value


def quantity(value: str) -> str:
    """A CPU or memory amount: "2", "0.5", "500m", "4Gi"."""
    try:
        if parse_quantity(value) < 0:
            raise ValueError
    except ValueError:
        raise FlagValueError(f'"{value}" is not a quantity', 'a quantity like "2", "0.5", "500m" or "4Gi"') from None
    return value.strip()


def _decimal(value: str, shape: str) -> Decimal:
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise FlagValueError(f'"{value}" is not a number', shape) from None


def gpu(value: str) -> str:
    """A number of GPUs: whole ("2") or a fraction of one ("0.5")."""
    shape = 'a number of GPUs like "1", "2" or "0.5"'
    amount = _decimal(value, shape)
    if amount < 0 or (amount > 1 and amount != amount.to_integral_value()):
        raise FlagValueError(f'"{value}" is neither a whole number of GPUs nor a fraction between 0 and 1', shape)
    return _plain_number(amount)


def portion(value: str) -> str:
    """A share of one GPU, between 0 and 1."""
    shape = "a fraction of one GPU between 0 and 1, like 0.5"
    amount = _decimal(value, shape)
    if not 0 < amount <= 1:
        raise FlagValueError(f"{value} is not between 0 and 1", shape)
    return _plain_number(amount)


def _plain_number(amount: Decimal) -> str:
    """"1" for 1.0, "0.5" for .50: the spelling Run:ai's objects use."""
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format(amount.normalize(), "f")


def integer(minimum: int = 0) -> Parser:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise FlagValueError(f'"{value}" is not a whole number', f"a whole number of at least {minimum}") from None
        if number < minimum:
            raise FlagValueError(f"{number} is less than {minimum}", f"a whole number of at least {minimum}")
        return number

    return parse


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_SECONDS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600)}


def duration(value: str) -> str:
    """A Go-style duration ("90s", "1h30m"), kept as written (ttlAfterFinish takes it so)."""
    compact = value.strip()
    if not compact or "".join(m.group(0) for m in _DURATION.finditer(compact)) != compact:
        raise FlagValueError(f'"{value}" is not a duration', 'a duration like "90s", "30m" or "1h30m"')
    return compact


def seconds(value: str) -> int:
    """A duration ("5s", "2m", "3h") or a plain number of seconds, as whole seconds."""
    if value.strip().isdigit():
        return int(value.strip())
    total = sum(Decimal(n) * _SECONDS[unit] for n, unit in _DURATION.findall(duration(value)))
    return int(total)


def choice(*values: str, spellings: dict[str, str] | None = None) -> Parser:
    """One of `values`, case-insensitively; `spellings` are other words for them."""
    lookup = {v.lower(): v for v in values} | {k.lower(): v for k, v in (spellings or {}).items()}

    def parse(value: str) -> str:
        found = lookup.get(value.strip().lower())
        if found is None:
            raise FlagValueError(f'"{value}" is not one of them', "one of " + ", ".join(values))
        return found

    return parse


def boolean(value: str) -> bool:
    word = value.strip().lower()
    if word in ("true", "yes", "1", ""):
        return True
    if word in ("false", "no", "0"):
        return False
    raise FlagValueError(f'"{value}" is not true or false', "true or false")


def pair(what: str) -> Parser:
    """KEY=VALUE (environment variables, labels, annotations); the value may be empty."""

    def parse(value: str) -> tuple[str, str]:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise FlagValueError(f'"{value}" has no "="', f"{what}=VALUE")
        return key.strip(), rest

    return parse


def split_pairs(values: tuple[str, ...]) -> list[str]:
    """Run:ai's stringArray flags taken repeated or comma-separated (`-e A=1,B=2`); a comma is a separator
    only when what follows it starts a new KEY=, so `-e TOKEN=SECRET:hf,token` stays one variable."""
    out: list[str] = []
    for value in values:
        parts = value.split(",")
        current = parts[0]
        for part in parts[1:]:
            if re.match(r"^\s*[A-Za-z_][-A-Za-z0-9_./]*=", part):
                out.append(current)
                current = part
            else:
                current += "," + part
        out.append(current)
    return out


def split_words(values: tuple[str, ...]) -> list[str]:
    """Lists given repeated, comma- or space-separated (`--node-pools a,b`, `--node-pools "a b"`)."""
    return [word for value in values for word in re.split(r"[,\s]+", value) if word]


@dataclass(frozen=True)
class Keyed:
    """A `key=value,key=value,word` flag (`--git-sync`, `--toleration`, `--new-pvc`): `keys` maps each key
    the user may write to the member it sets (Run:ai's v1 and v2 names alike), `words` maps bare words to
    (member, value), and `required` members must be given. The member `name` of `--git-sync name=...` is
    the item's label, not a member."""

    shape: str
    keys: dict[str, str]
    words: dict[str, tuple[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    convert: dict[str, Parser] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: str) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.fixed)
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            key, sep, rest = part.partition("=")
            key = key.strip().lower()
            if not sep:
                if key in self.words:
                    member, word_value = self.words[key]
                    out[member] = word_value
                    continue
                raise FlagValueError(f'"{part}" is not key=value' + self._hint(key), self.shape)
            member = self.keys.get(key)
            if member is None:
                raise FlagValueError(f'unknown key "{key}"' + self._hint(key), self.shape)
            convert = self.convert.get(member, text)
            try:
                out[member] = convert(rest)
            except FlagValueError as exc:
                raise FlagValueError(f"{key}: {exc}") from None
        missing = [m for m in self.required if m not in out]
        if missing:
            names = [next(k for k, v in self.keys.items() if v == m) for m in missing]
            raise FlagValueError(f"{', '.join(names)} is missing", self.shape)
        return out

    def _hint(self, key: str) -> str:
        close = suggest(key, [*self.keys, *self.words])
        return f" (did you mean {close}?)" if close else ""


def _flag_word(member: str, value: Any = True) -> tuple[str, Any]:
    return (member, value)


GIT_SYNC = Keyed(
    "source=URL[,branch=BRANCH][,rev=REV][,target=DIR][,username=USER][,password=PASSWORD] "
    "(or name=NAME,repository=URL,path=DIR,secret=SECRET,rev=REV)",
    keys={"source": "source", "repository": "source", "branch": "branch", "rev": "rev", "revision": "rev",
          "username": "username", "password": "password", "target": "target", "path": "target",
          "secret": "secret", "name": "name"},
    required=("source",),
)

S3 = Keyed(
    "bucket=BUCKET,target=DIR[,key=KEY][,secret=SECRET][,url=URL] "
    "(or name=NAME,bucket=BUCKET,path=DIR,accesskey=KEY,url=URL)",
    keys={"bucket": "bucket", "key": "key", "accesskey": "key", "secret": "secret", "url": "url",
          "target": "target", "path": "target", "name": "name"},
    required=("bucket", "target"),
)

TOLERATION = Keyed(
    "operator=Equal|Exists,key=KEY[,value=VALUE][,effect=NoSchedule|NoExecute|PreferNoSchedule][,seconds=N]",
    keys={"operator": "operator", "key": "key", "value": "value", "effect": "effect", "seconds": "seconds"},
    convert={"operator": choice("Equal", "Exists"),
             "effect": choice("NoSchedule", "PreferNoSchedule", "NoExecute"), "seconds": integer(0)},
    required=("operator",),
)

_ACCESS_MODES = {"accessmode-rwo": _flag_word("accessMode", "ReadWriteOnce"),
                 "accessmode-rom": _flag_word("accessMode", "ReadOnlyMany"),
                 "accessmode-rwm": _flag_word("accessMode", "ReadWriteMany")}

EXISTING_PVC = Keyed(
    "claimname=CLAIM,path=PATH[,ro]",
    keys={"claimname": "claimName", "path": "path"},
    words={"ro": _flag_word("readOnly"), "readonly": _flag_word("readOnly")},
    required=("claimName", "path"), fixed={"existingPvc": True},
)

NEW_PVC = Keyed(
    "[claimname=CLAIM,]size=SIZE,path=PATH[,storageclass=CLASS][,accessmode-rwo|accessmode-rom|accessmode-rwm]"
    "[,ro][,ephemeral]",
    keys={"claimname": "claimName", "storageclass": "storageClass", "size": "size", "path": "path"},
    words={"ro": _flag_word("readOnly"), "ephemeral": _flag_word("ephemeral"), **_ACCESS_MODES},
    convert={"size": quantity}, required=("path",), fixed={"existingPvc": False},
)

CONFIGMAP_VOLUME = Keyed("name=CONFIGMAP,path=PATH", keys={"name": "name", "path": "mountPath"},
                         required=("name", "mountPath"))
SECRET_VOLUME = Keyed("name=SECRET,path=PATH", keys={"name": "name", "path": "mountPath"},
                      required=("name", "mountPath"))

HOST_PATH = Keyed(
    "path=HOST_PATH,mount=CONTAINER_PATH[,mount-propagation=None|HostToContainer][,readwrite]",
    keys={"path": "source", "mount": "target", "mount-propagation": "propagation"},
    words={"readwrite": _flag_word("readOnly", False)},
    convert={"propagation": choice("None", "HostToContainer")},
    required=("source", "target"), fixed={"readOnly": True},
)

NFS = Keyed(
    "path=EXPORT,server=HOST,mountpath=CONTAINER_PATH[,readwrite]",
    keys={"path": "source", "server": "nfsServer", "mountpath": "target"},
    words={"readwrite": _flag_word("readOnly", False)},
    required=("source", "nfsServer", "target"), fixed={"readOnly": True},
)

EXTERNAL_URL = Keyed(
    "container=PORT[,url=URL][,authusers=USER1:USER2]",
    keys={"container": "container", "url": "url", "authusers": "authorizedUsers", "authgroups": "authorizedGroups"},
    convert={"container": integer(1)}, required=("container",),
)

_PORT_KEYS = Keyed(
    "[EXTERNAL:]CONTAINER, or container=PORT[,external=PORT][,service-type=NodePort|LoadBalancer|ClusterIP]",
    keys={"container": "container", "external": "external", "service-type": "serviceType"},
    convert={"container": integer(1), "external": integer(1),
             "serviceType": choice("ClusterIP", "NodePort", "LoadBalancer", "Ingress")},
    required=("container",),
)


def port(value: str) -> dict[str, Any]:
    """`--port 8080:80` (v1: external, then container), `--port 80`, or `--port container=80,external=8080`."""
    if "=" in value:
        return _PORT_KEYS(value)
    parts = value.strip().split(":")
    if len(parts) > 2 or not all(p.strip().isdigit() and 0 < int(p) < 65536 for p in parts):
        raise FlagValueError(f'"{value}" is not a port', _PORT_KEYS.shape)
    if len(parts) == 2:
        return {"container": int(parts[1]), "external": int(parts[0])}
    return {"container": int(parts[0])}


def serving_port(value: str) -> dict[str, Any]:
    """`--serving-port 8000` or `--serving-port container=8000[,protocol=http,...]`: the container port."""
    if value.strip().isdigit():
        return {"container": integer(1)(value)}
    parsed = Keyed(
        "CONTAINER_PORT, or container=PORT[,protocol=http|grpc][,authorization-type=...]",
        keys={"container": "container", "protocol": "protocol", "authorization-type": "authorization",
              "authorized-users": "authorizedUsers", "authorized-groups": "authorizedGroups"},
        words={"cluster-local-access-only": _flag_word("clusterLocal")},
        convert={"container": integer(1)}, required=("container",),
    )(value)
    return parsed


def volume(value: str) -> dict[str, Any]:
    """`-v SOURCE:TARGET[:ro][:NFS_HOST]` (v1)."""
    shape = "SOURCE:TARGET[:ro][:NFS_HOST], like /data:/mnt/data:ro"
    parts = value.split(":")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise FlagValueError(f'"{value}" has no SOURCE:TARGET', shape)
    out: dict[str, Any] = {"source": parts[0], "target": parts[1]}
    rest = parts[2:]
    if rest and rest[0] in ("ro", "rw"):
        out["readOnly"] = rest.pop(0) == "ro"
    if rest:
        if len(rest) > 1 or not rest[0]:
            raise FlagValueError(f'"{value}" has too many parts', shape)
        out["nfsServer"] = rest[0]
    return out


def legacy_pvc(value: str) -> dict[str, Any]:
    """`--pvc` of old CLIs: `CLAIM:PATH[:ro]` mounts an existing claim, `[CLASS]:SIZE:PATH[:ro]` asks for a new
    one."""
    shape = "CLAIM:PATH[:ro] or [STORAGE_CLASS]:SIZE:PATH[:ro]"
    parts = value.split(":")
    read_only = parts[-1] == "ro"
    if read_only:
        parts = parts[:-1]
    if len(parts) == 2 and all(parts):
        return {"claimName": parts[0], "path": parts[1], "existingPvc": True, "readOnly": read_only}
    if len(parts) == 3 and parts[1] and parts[2]:
        out = {"size": quantity(parts[1]), "path": parts[2], "existingPvc": False, "readOnly": read_only}
        if parts[0]:
            out["storageClass"] = parts[0]
        return out
    raise FlagValueError(f'"{value}" is neither form', shape)


def extended_resource(value: str) -> dict[str, Any]:
    name, sep, amount = value.partition("=")
    if not sep or not name.strip():
        raise FlagValueError(f'"{value}" has no "="', "RESOURCE=QUANTITY, like nvidia.com/mlnx_rdma=1")
    return {"resource": name.strip(), "quantity": quantity(amount)}


def supplemental_groups(value: str) -> str:
    ids = [g for g in re.split(r"[,;\s]+", value) if g]
    if not ids or not all(g.isdigit() for g in ids):
        raise FlagValueError(f'"{value}" is not a list of group ids', "group ids separated by commas, like 1000,2000")
    return ",".join(ids)


def label_of(value: str) -> str:
    """An item label made from a value (a capability, a resource name): lower case, `-` for the rest."""
    return re.sub(r"[^a-z0-9.-]+", "-", value.lower()).strip("-") or "item"
