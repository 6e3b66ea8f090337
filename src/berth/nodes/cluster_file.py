"""The cluster file of `berth up --nodes cluster.yaml`: pools of simulated nodes, read into `NodeSpec`s.

    pools:
    - name: a100            # nodes a100-0 .. a100-3, labelled run.ai/node-pool: a100 (unless labels say otherwise)
      count: 4
      gpus: 8
      gpuModel: NVIDIA-A100-SXM4-80GB
      gpuMemoryMiB: 81920
      cpu: "64"
      memory: 512Gi
      pods: 110             # how many pods a node takes
      labels: {run.ai/type: dgx-a100}
      mig:                  # optional: GPU i in MIG mode, split into these instances (null: whole)
      - [3g.40gb, 2g.20gb, 1g.10gb, 1g.10gb]
      - [7g.80gb]

The file is user text, so reading it is strict and helpful: every problem is reported at once, each naming
the field (`pools[1].gpuModle`) and the fix (a typo's closest field name, the type expected, a quoted
value). Nothing is returned unless the whole file is valid. Node names are `<pool>-<i>` from 0, so a pool
name must leave room for the index within the 63 characters of a hostname label.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from berth.api import mig
from berth.api.explain import suggest
from berth.api.types import Quantity, describe_input
from berth.nodes.node import Gpu, NodeSpec

POOL_LABEL = "run.ai/node-pool"
_DEFAULTS = NodeSpec(name="")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_EXAMPLE = "pools: [{name: a100, count: 4, gpus: 8}]"
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_VALUE_RULE = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def _label_value_ok(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.fullmatch(value)))


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not (0 < len(prefix) <= 253 and _LABEL_PREFIX.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_LABEL_NAME.fullmatch(name))


class ClusterFileError(ValueError):
    """The cluster file cannot be used; `problems` lists every reason, each `field: what to do`."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in problems))


class Pool(BaseModel):
    """One pool of identical simulated nodes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    name: str = Field(description="Pool name: the nodes' name prefix and their run.ai/node-pool label.")
    count: int = Field(1, ge=1, strict=True, description="How many nodes.")
    gpus: int = Field(0, ge=0, strict=True, description="GPUs per node.")
    gpu_model: str = Field(Gpu(0).model, alias="gpuModel", description="GPU product name.")
    gpu_memory_mib: int = Field(Gpu(0).memory_mib, alias="gpuMemoryMiB", ge=1, strict=True,
                                description="Memory of each GPU in MiB.")
    cpu: Quantity = Field(_DEFAULTS.cpu, description="CPU capacity of a node.")
    memory: Quantity = Field(_DEFAULTS.memory, description="Memory capacity of a node.")
    pods: int = Field(_DEFAULTS.pods, ge=1, strict=True, description="How many pods a node takes.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra node labels.")
    mig: list[list[str] | None] = Field(default_factory=list, description=(
        "MIG partitions: item i puts GPU i of every node in MIG mode with these instances (profiles such as "
        "1g.10gb), null leaves it whole; GPUs past the list are whole."))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value):
            raise ValueError(f'"{value}" is not a valid pool name: use lower-case letters, digits and "-", '
                             f"starting and ending with a letter or digit (e.g. a100)")
        return value

    @field_validator("gpu_model")
    @classmethod
    def _model(cls, value: str) -> str:
        # It becomes the label nvidia.com/gpu.product (spaces as "-"), so it must make a label value.
        if not value.strip() or not _label_value_ok(value.replace(" ", "-")):
            raise ValueError(f'"{value}" cannot be a label value: {_VALUE_RULE} (e.g. NVIDIA-A100-SXM4-80GB)')
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not _label_key_ok(key):
                raise ValueError(f'"{key}" is not a label key: an optional DNS prefix and "/", then {_VALUE_RULE} '
                                 f"(e.g. run.ai/type)")
            if not _label_value_ok(text):
                raise ValueError(f'the value of {key} ("{text}") is not a label value: {_VALUE_RULE}')
        return value


class ClusterFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pools: list[Pool] = Field(min_length=1)


_FIELDS = {ClusterFile: sorted(f.alias or n for n, f in ClusterFile.model_fields.items()),
           Pool: sorted(f.alias or n for n, f in Pool.model_fields.items())}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(error: dict[str, Any]) -> str:
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    path = _path(loc)
    if kind == "extra_forbidden":
        model = Pool if len(loc) > 1 else ClusterFile
        hint = suggest(str(loc[-1]), _FIELDS[model])
        fix = f'; did you mean "{hint}"?' if hint else f"; the fields are {', '.join(_FIELDS[model])}"
        return f"{path}: unknown field{fix}"
    if kind == "missing":
        if loc == ("pools",):
            return f"pools: required; list the node pools, e.g. {_EXAMPLE}"
        return f"{path}: required" + ("; name the pool, e.g. name: a100" if loc[-1] == "name" else "")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        hint = f'; write {loc[-1]}: {value.strip()}' if isinstance(value, str) and value.strip().isdigit() else ""
        return f"{path}: expected a whole number, got {describe_input(value)}{hint}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{path}: must be at least {error['ctx'].get('ge', error['ctx'].get('gt'))}, got {value}"
    if kind == "string_type":
        fix = f'; quote it: "{_scalar(value)}"' if isinstance(value, (int, float, bool)) else ""
        return f"{path}: expected a string, got {describe_input(value)}{fix}"
    if kind in ("dict_type", "model_type"):
        return f"{path}: expected a mapping (key: value), got {describe_input(value)}"
    if kind == "list_type":
        return f"{path}: expected a list of pools, got {describe_input(value)}; e.g. {_EXAMPLE}"
    if kind == "too_short" and loc == ("pools",):
        return f"pools: is empty; list at least one pool, e.g. {_EXAMPLE}"
    return f"{path}: {error['msg'].removeprefix('Value error, ')}"


def _scalar(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def parse(document: Any, source: str = "") -> list[NodeSpec]:
    """The nodes a parsed cluster file declares, or ClusterFileError naming every problem."""
    if document is None:
        raise ClusterFileError([f"is empty; list the node pools, e.g. {_EXAMPLE}"], source)
    if not isinstance(document, dict):
        message = f"expected a mapping with pools:, got {describe_input(document)}; e.g. {_EXAMPLE}"
        raise ClusterFileError([message], source)
    try:
        checked = ClusterFile.model_validate(document)
    except ValidationError as exc:
        raise ClusterFileError([_problem(e) for e in exc.errors()], source) from None
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, pool in enumerate(checked.pools):
        if pool.name in seen:
            problems.append(f'pools[{i}].name: "{pool.name}" is also the name of pools[{seen[pool.name]}]; '
                            f"give each pool its own name")
        seen.setdefault(pool.name, i)
        longest = f"{pool.name}-{pool.count - 1}"
        if len(longest) > 63:
            problems.append(f"pools[{i}].name: node names like {longest} would be longer than 63 characters; "
                            f"shorten the pool name to {63 - len(str(pool.count - 1)) - 1} or fewer")
        problems.extend(_mig_problems(pool, f"pools[{i}].mig"))
    if problems:
        raise ClusterFileError(problems, source)
    return specs_of(checked.pools)


def _mig_problems(pool: Pool, where: str) -> list[str]:
    """What is wrong with a pool's MIG partitions: more GPUs than it has, profiles its GPU model does not
    offer (naming those it does), instances that take more compute slices than the GPU has."""
    if len(pool.mig) > pool.gpus:
        return [f"{where}: partitions {len(pool.mig)} GPUs, but the pool's nodes have {pool.gpus}; list at most "
                f"{pool.gpus} (or raise gpus)"]
    known = mig.profiles_of(pool.gpu_model, pool.gpu_memory_mib)
    slices = mig.slices_of(pool.gpu_model, pool.gpu_memory_mib)
    problems = []
    for i, profiles in enumerate(pool.mig):
        bad = False
        for j, profile in enumerate(profiles or []):
            if known is not None and profile not in known:
                problems.append(f'{where}[{i}][{j}]: "{profile}" is not a MIG profile of {pool.gpu_model}; its '
                                f"profiles are {', '.join(known)}")
                bad = True
            elif known is None and not mig.is_profile(profile):
                problems.append(f'{where}[{i}][{j}]: "{profile}" is not a MIG profile; write one like 1g.10gb '
                                "(compute slices, then memory)")
                bad = True
        if not bad and profiles:
            used = sum(mig.compute_slices_of(p) for p in profiles)
            if used > slices:
                problems.append(f"{where}[{i}]: these instances take {used} compute slices, but a "
                                f"{pool.gpu_model} has {slices}; drop some")
    return problems


def _address(index: int) -> str:
    """A made-up InternalIP for the index-th simulated node, in 172.16.0.0/12."""
    return f"172.{16 + (index >> 16)}.{(index >> 8) & 255}.{index & 255}"


def specs_of(pools: list[Pool]) -> list[NodeSpec]:
    specs: list[NodeSpec] = []
    for pool in pools:
        partitions = [*pool.mig, *[None] * (pool.gpus - len(pool.mig))]
        gpus = tuple(Gpu(index=j, model=pool.gpu_model, memory_mib=pool.gpu_memory_mib,
                         mig=None if partitions[j] is None else tuple(partitions[j] or ()))
                     for j in range(pool.gpus))
        labels = {POOL_LABEL: pool.name, **pool.labels}
        for i in range(pool.count):
            specs.append(NodeSpec(name=f"{pool.name}-{i}", cpu=str(pool.cpu), memory=str(pool.memory),
                                  pods=pool.pods, gpus=gpus, labels=labels, simulated=True,
                                  address=_address(len(specs))))
    return specs


def load_cluster_file(path: str | Path) -> list[NodeSpec]:
    """The simulated nodes declared in the cluster file at `path`; ClusterFileError when it cannot be used."""
    source = str(path)
    try:
        text = Path(path).expanduser().read_text()
    except FileNotFoundError:
        raise ClusterFileError([f"no such file; write one like: {_EXAMPLE}"], source) from None
    except OSError as exc:
        raise ClusterFileError([f"cannot be read: {exc.strerror or exc}"], source) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            what += f"; {context.removeprefix('while ')} at line {context_mark.line + 1}"
        raise ClusterFileError([f"{where}not valid YAML ({what})"], source) from None
    return parse(document, source)
