"""What a workload's pods mount: volumes, their mounts in the main container, and the init containers that
fill some of them (git repositories, S3 buckets). Pure: the stored spec in, plain Kubernetes dicts out.

It also holds the few helpers `berth.controllers.podspec` shares with it to read a stored spec (wrapped
scalars `{value: X}`, itemized fields `{items: {label: {value: ...}}}`) and `PodSpecError`, because this
module sits below `podspec` (which imports it) and must not import it back.

Invariants:
- Volume names are DNS labels, unique within the pod, and derived from item labels only, so the same
  workload always gives the same pod (controllers compare pods by content).
- Two things never mount at the same path: that is a `PodSpecError` naming both fields, not a pod the API
  server refuses with a message about volumeMounts[3].
- A new claim (`existingPvc` not true) without `claimName` is named by `claim_name`; the controller that
  creates the PersistentVolumeClaim must use the same function.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

GIT_SYNC_IMAGE = "registry.k8s.io/git-sync/git-sync:v4.2.4"
S3_IMAGE = "amazon/aws-cli:2.15.30"
SHM_PATH = "/dev/shm"
SECRET_PREFIX = "SECRET:"

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


class PodSpecError(ValueError):
    """The workload's spec cannot become a valid pod; the message names the field and the fix."""


# ---------------------------------------------------------------------------------------------------------
# Reading the stored spec
# ---------------------------------------------------------------------------------------------------------

def value_of(spec: dict[str, Any], name: str) -> Any:
    """The value of a wrapped scalar field; None when absent or an empty wrapper."""
    wrapper = spec.get(name)
    return wrapper.get("value") if isinstance(wrapper, dict) else None


def items_of(spec: dict[str, Any], name: str) -> list[tuple[str, Any]]:
    """(label, value) of every live item of an itemized field, in stored order.

    Deleted items and the policy-only `DEFAULTS` item are not items a workload runs with.
    """
    found = (spec.get(name) or {}).get("items") or {}
    return [
        (label, item["value"]) for label, item in found.items()
        if label != "DEFAULTS" and isinstance(item, dict) and not item.get("deleted") and item.get("value") is not None
    ]


def env_var(name: str, text: Any, where: str) -> dict[str, Any]:
    """An EnvVar; `SECRET:<secret>,<key>` takes its value from that key of a Secret of the namespace."""
    text = str(text)
    if not text.startswith(SECRET_PREFIX):
        return {"name": name, "value": text}
    secret, _, key = text[len(SECRET_PREFIX):].partition(",")
    if not secret.strip() or not key.strip():
        raise PodSpecError(f"{where}: {text!r} names no secret and key; write SECRET:<secret>,<key>")
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret.strip(), "key": key.strip()}}}


# ---------------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------------

def dns_name(text: str, limit: int = 63) -> str:
    """`text` as a DNS label (or subdomain-safe name) of at most `limit` characters.

    A text that had to change gets a short hash of the original, so that labels differing only in characters
    a DNS label cannot hold ("A_b", "a-b") still give different names.
    """
    clean = _NOT_DNS.sub("-", text.lower()).strip("-")
    if clean == text and len(clean) <= limit:
        return clean
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    head = clean[: limit - len(digest) - 1].strip("-")
    return f"{head}-{digest}" if head else digest


def claim_name(workload_name: str, label: str, item: dict[str, Any]) -> str:
    """The PersistentVolumeClaim a pvcs item mounts: its claimName, else `<workload>-<label>` lower-cased,
    other characters as '-', cut at 63 (the rule `berth.controllers.claims` creates new claims by)."""
    if item.get("claimName"):
        return str(item["claimName"])
    return _NOT_DNS.sub("-", f"{workload_name}-{label}".lower()).strip("-")[:63]


# ---------------------------------------------------------------------------------------------------------
# Volumes
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Storage:
    """Everything storage adds to a pod; `mount_fields` says which spec field made each mount (for errors)."""

    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    mount_fields: list[str] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)

    def add(self, where: str, name: str, source: dict[str, Any], mount: dict[str, Any]) -> str:
        name = self._unique(name)
        self.volumes.append({"name": name, **source})
        self.mounts.append({"name": name, **mount})
        self.mount_fields.append(where)
        return name

    def _unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._names:
            n += 1
            candidate = f"{name[: 63 - len(str(n)) - 1]}-{n}"
        self._names.add(candidate)
        return candidate


def _required(value: Any, where: str, member: str) -> Any:
    if value in (None, ""):
        raise PodSpecError(f"{where}: {member} is required; give it in the item or in the policy's DEFAULTS")
    return value


def storage(spec: dict[str, Any], workload_name: str, *, home: str | None) -> Storage:
    """The volumes of a pod running `spec`; `home` is where a home-directory emptyDir goes (None: none)."""
    out = Storage()
    propagate = {"mountPropagation": "HostToContainer"} if value_of(spec, "mountPropagation") else {}
    if value_of(spec, "largeShm"):
        out.add("spec.largeShm", "dshm", {"emptyDir": {"medium": "Memory"}}, {"mountPath": SHM_PATH})
    for label, item in items_of(spec, "pvcs"):
        where = f"spec.pvcs.items.{label}"
        read_only = bool(item.get("readOnly"))
        claim = {"claimName": claim_name(workload_name, label, item)} | ({"readOnly": True} if read_only else {})
        mount = {"mountPath": _required(item.get("path"), where, "path")} | ({"readOnly": True} if read_only else {})
        out.add(where, dns_name(f"pvc-{label}"), {"persistentVolumeClaim": claim}, mount | propagate)
    for label, item in items_of(spec, "volumes"):
        where = f"spec.volumes.items.{label}"
        path = _required(item.get("source"), where, "source")
        read_only = bool(item.get("readOnly"))
        if item.get("nfsServer"):
            source = {"nfs": {"server": item["nfsServer"], "path": path} | ({"readOnly": True} if read_only else {})}
        else:
            source = {"hostPath": {"path": path}}
        mount = {"mountPath": _required(item.get("target"), where, "target")}
        mount |= {"readOnly": True} if read_only else {}
        out.add(where, dns_name(f"vol-{label}"), source, mount | propagate)
    for label, item in items_of(spec, "emptyDirVolumes"):
        where = f"spec.emptyDirVolumes.items.{label}"
        empty = {k: str(item[k]) for k in ("medium", "sizeLimit") if item.get(k) is not None}
        mount = {"mountPath": _required(item.get("path"), where, "path")}
        out.add(where, dns_name(f"empty-{label}"), {"emptyDir": empty}, mount)
    for field_name, prefix, kind, ref in (("configMapVolumes", "cm", "configMap", "name"),
                                          ("secretVolumes", "secret", "secret", "secretName")):
        for label, item in items_of(spec, field_name):
            where = f"spec.{field_name}.items.{label}"
            source = {kind: {ref: _required(item.get("name"), where, "name")}}
            mount = {"mountPath": _required(item.get("mountPath"), where, "mountPath")}
            if item.get("readOnly", True):
                mount["readOnly"] = True
            out.add(where, dns_name(f"{prefix}-{label}"), source, mount)
    for label, item in items_of(spec, "gitSync"):
        _git_sync(out, f"spec.gitSync.items.{label}", label, item)
    for label, item in items_of(spec, "s3"):
        _s3(out, f"spec.s3.items.{label}", label, item)
    if home is not None and home not in {m["mountPath"] for m in out.mounts}:
        out.add("spec.createHomeDir", "home", {"emptyDir": {}}, {"mountPath": home})
    _check_paths(out)
    return out


_GIT_ROOT = "/git"
_GIT_LINK = "repo"


def _git_sync(out: Storage, where: str, label: str, item: dict[str, Any]) -> None:
    """Clone once, before the main container starts, with git-sync (branch, tag or commit; credentials).

    git-sync checks out into `<root>/.worktrees/<hash>` and points the symlink `<root>/repo` at it, so the
    main container mounts the volume with `subPath: repo` to see the repository itself at `target`.
    """
    source = _required(item.get("source"), where, "source")
    target = item.get("target") or "/code"
    name = out.add(where, dns_name(f"git-{label}"), {"emptyDir": {}}, {"mountPath": target, "subPath": _GIT_LINK})
    env = [{"name": "GITSYNC_REPO", "value": source}, {"name": "GITSYNC_ROOT", "value": _GIT_ROOT},
           {"name": "GITSYNC_LINK", "value": _GIT_LINK}, {"name": "GITSYNC_ONE_TIME", "value": "true"}]
    ref = item.get("rev") or item.get("branch")
    if ref:
        env.append({"name": "GITSYNC_REF", "value": ref})
    if item.get("username"):
        env.append(env_var("GITSYNC_USERNAME", item["username"], f"{where}.username"))
    if item.get("password"):
        env.append(env_var("GITSYNC_PASSWORD", item["password"], f"{where}.password"))
    out.init_containers.append({
        "name": name, "image": GIT_SYNC_IMAGE, "imagePullPolicy": "IfNotPresent", "env": env,
        "volumeMounts": [{"name": name, "mountPath": _GIT_ROOT}],
    })


_S3_MOUNT = "/s3"


def _s3(out: Storage, where: str, label: str, item: dict[str, Any]) -> None:
    """Copy a bucket into an emptyDir before the main container starts (`aws s3 sync`).

    A copy, not a live mount: Berth needs no CSI driver this way, and the pod sees the bucket as it was
    when the pod started. Writes under `target` stay in the pod and are not uploaded.
    """
    bucket = _required(item.get("bucket"), where, "bucket")
    target = _required(item.get("target"), where, "target")
    name = out.add(where, dns_name(f"s3-{label}"), {"emptyDir": {}}, {"mountPath": target})
    args = ["s3", "sync", f"s3://{bucket}", _S3_MOUNT]
    if item.get("url"):
        args += ["--endpoint-url", item["url"]]
    env = []
    if item.get("key"):
        env.append(env_var("AWS_ACCESS_KEY_ID", item["key"], f"{where}.key"))
    if item.get("secret"):
        env.append(env_var("AWS_SECRET_ACCESS_KEY", item["secret"], f"{where}.secret"))
    if not env:
        args.append("--no-sign-request")  # a public bucket: no credentials to sign with
    container: dict[str, Any] = {"name": name, "image": S3_IMAGE, "imagePullPolicy": "IfNotPresent",
                                 "command": ["aws"], "args": args}
    if env:
        container["env"] = env
    container["volumeMounts"] = [{"name": name, "mountPath": _S3_MOUNT}]
    out.init_containers.append(container)


def _check_paths(out: Storage) -> None:
    seen: dict[str, str] = {}
    for mount, where in zip(out.mounts, out.mount_fields):
        path = mount["mountPath"].rstrip("/") or "/"
        if path in seen:
            raise PodSpecError(
                f"{where}: mounts at {mount['mountPath']}, where {seen[path]} already mounts; "
                "give one of them another path"
            )
        seen[path] = where
