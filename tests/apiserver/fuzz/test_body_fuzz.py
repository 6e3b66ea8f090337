"""Hypothesis against `berth up` with generated YAML and JSON bodies: create, replace, and the four patch
types (merge, strategic merge, JSON patch, server-side apply) of workloads, policies, pods and ConfigMaps,
with bodies that are malformed (cut short, not UTF-8, deeply nested), of the wrong types, with huge numbers,
odd unicode, unknown fields, and workload specs with random values for their real fields.

Every answer must be a Kubernetes answer, never a server error, within REQUEST_TIMEOUT_S; every write that
succeeds has a resourceVersion no older than the last one seen. Afterwards the store must be consistent:
every object listed can be read alone and is the same, passes the schema it was admitted under, and a list
read page by page equals the list read at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from berth.api.schema import full_schema
from berth.apiserver.resources import find
from berth.apiserver.validation import check_object
from tests.apiserver.fuzz.conftest import NS, REQUEST_TIMEOUT_S, Tally, check_status, fuzz_settings

#: Cases per run (times BERTH_FUZZ_FACTOR).
CASES = 500
NAMES = ("a", "b", "c")


@dataclass(frozen=True)
class Target:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        return f"{prefix}/namespaces/{NS}/{self.plural}"

    @property
    def resource(self) -> Any:
        return find(self.group, self.version, self.plural)


TARGETS = [Target("run.ai", "v2alpha1", "trainingworkloads", "TrainingWorkload"),
           Target("run.ai", "v2alpha1", "inferenceworkloads", "InferenceWorkload"),
           Target("run.ai", "v2alpha1", "trainingpolicies", "TrainingPolicy"),
           Target("", "v1", "configmaps", "ConfigMap"),
           Target("", "v1", "pods", "Pod")]
SPEC_FIELDS = sorted(full_schema(TARGETS[0].resource.model)["properties"]["spec"]["properties"])

# -- values ------------------------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "a" * 300, "\x00", "\u202e", "é", "🚀", "ﬁ", "İ", "1e9", "-1", "0.5", "true", "null",
                     "${HOME}", "../..", "a/b", "a.b", "\ud7ff", "\t\n", "1Gi", "500m", "ubuntu"]),
)
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63), 2**64, 1e308, -1e-308, 10**30]))
scalars = st.one_of(st.none(), st.booleans(), numbers, odd_text)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
                      max_leaves=12)
field_names = st.one_of(st.sampled_from(SPEC_FIELDS), odd_text)
#: A workload field's value: mostly {value: ...} as the schema wants, with a plausible or random inside.
field_values = st.one_of(
    st.fixed_dictionaries({"value": st.one_of(st.sampled_from(["1", "0.5", "ubuntu", "2", "1Gi", "true"]), values)}),
    values)


def metadata() -> st.SearchStrategy[dict[str, Any]]:
    """Metadata with a name that is mostly one of NAMES (so that writes meet existing objects), and now and then
    labels, annotations, a resourceVersion, finalizers, owners and an unknown field, all generated."""
    name = st.sampled_from(NAMES)
    return st.fixed_dictionaries({"name": st.one_of(name, name, odd_text)}, optional={
        "labels": st.dictionaries(odd_text, odd_text | values, max_size=3),
        "annotations": st.dictionaries(odd_text, odd_text | values, max_size=3),
        "resourceVersion": st.one_of(odd_text, numbers.map(str)),
        "finalizers": st.lists(odd_text, max_size=2),
        "ownerReferences": st.lists(st.dictionaries(st.sampled_from(["apiVersion", "kind", "name", "uid", "controller"]),
                                                    values, max_size=5), max_size=2),
    }).flatmap(with_unknown)


def with_unknown(known: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The fields, and now and then one the schema does not know."""
    return st.dictionaries(odd_text, values, max_size=1).map(lambda unknown: {**unknown, **known})


def spec_for(target: Target) -> st.SearchStrategy[Any]:
    if target.kind.endswith("Workload"):
        return st.dictionaries(field_names, field_values, max_size=6)
    if target.kind.endswith("Policy"):
        return st.dictionaries(st.sampled_from(["defaults", "rules", "imposedAssets"]) | odd_text,
                               st.dictionaries(field_names, field_values | values, max_size=4) | values, max_size=3)
    if target.kind == "Pod":
        container = st.dictionaries(st.sampled_from(["name", "image", "command", "env", "resources", "ports"]) | odd_text,
                                    values, max_size=5)
        return st.fixed_dictionaries({"containers": st.lists(container, max_size=3)},
                                     optional={"nodeName": odd_text, "priorityClassName": odd_text}).flatmap(with_unknown)
    return values


#: A valid object of each kind, which `plausible` edits a little: most cases then get past decoding and reach
#: validation, admission, the patch logic and the store.
BASES: dict[str, dict[str, Any]] = {
    "TrainingWorkload": {"spec": {"gpu": {"value": "1"}, "image": {"value": "ubuntu"}}},
    "InferenceWorkload": {"spec": {"gpu": {"value": "1"}, "image": {"value": "ubuntu"}}},
    "TrainingPolicy": {"spec": {"gpu": {"rules": {"max": "2"}}}},
    "ConfigMap": {"data": {"a": "1"}},
    "Pod": {"spec": {"containers": [{"name": "main", "image": "ubuntu"}]}},
}


@st.composite
def plausible(draw: st.DrawFn, target: Target) -> dict[str, Any]:
    """A valid object with up to three edits: a field set to a generated value, or removed."""
    obj = json.loads(json.dumps({"apiVersion": target.api_version, "kind": target.kind,
                                 "metadata": {"name": draw(st.sampled_from(NAMES))}, **BASES[target.kind]}))
    section = "data" if target.kind == "ConfigMap" else "spec"
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from([section, section, "labels", "annotations"]))
        holder = obj[section] if where == section else obj["metadata"].setdefault(where, {})
        if where == "spec" and target.kind.endswith("Policy"):
            value = st.fixed_dictionaries({}, optional={"value": field_values, "rules": st.dictionaries(
                st.sampled_from(["min", "max", "canEdit", "required", "options"]) | odd_text, values, max_size=3)})
        else:
            value = field_values if where == "spec" else odd_text | values
        key = draw(field_names if where == "spec" else odd_text)
        if holder and draw(st.integers(0, 4)) == 0:
            holder.pop(draw(st.sampled_from(sorted(holder))))
        else:
            holder[key] = draw(value)
    return obj


def objects(target: Target) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(plausible(target), plausible(target), plausible(target), random_objects(target))


def random_objects(target: Target) -> st.SearchStrategy[dict[str, Any]]:
    body: dict[str, Any] = {"apiVersion": st.just(target.api_version) | odd_text, "kind": st.just(target.kind) | odd_text,
                            "metadata": metadata()}
    optional: dict[str, Any] = {}
    if target.kind == "ConfigMap":
        optional["data"] = st.dictionaries(odd_text, odd_text | values, max_size=4)
    else:
        body["spec"] = spec_for(target)
    return st.fixed_dictionaries(body, optional=optional).flatmap(with_unknown)


def json_patches(target: Target) -> st.SearchStrategy[Any]:
    pointers = st.sampled_from(["", "/", "/spec", "/metadata/labels", "/metadata/labels/x", "/spec/gpu/value",
                                "/data/a", "/spec/containers/0", "/spec/containers/-", "/metadata/name", "/kind",
                                "/metadata/resourceVersion", "/a~1b", "/~2", "/spec/image"]) | odd_text
    op = st.fixed_dictionaries({"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]) | odd_text,
                                "path": pointers}, optional={"value": values, "from": pointers})
    return st.one_of(st.lists(op, max_size=4), values)


# -- requests ----------------------------------------------------------------------------------------------

JSON, YAML = "application/json", "application/yaml"
MERGE, STRATEGIC = "application/merge-patch+json", "application/strategic-merge-patch+json"
JSON_PATCH, APPLY = "application/json-patch+json", "application/apply-patch+yaml"


def encode(data: Any, as_yaml: bool) -> bytes:
    if as_yaml:
        return yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass")
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def body_bytes(draw: st.DrawFn, data: Any, as_yaml: bool) -> bytes:
    """The data encoded, or mangled: cut short, with junk after it, nested too deep, or not text at all."""
    raw = encode(data, as_yaml)
    how = draw(st.sampled_from(["cut", "junk", "deep", "binary", "number"])) if draw(st.integers(0, 4)) == 3 else ""
    if not how:
        return raw
    if how == "cut":
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "junk":
        return raw + draw(st.binary(min_size=1, max_size=8))
    if how == "deep":
        depth = draw(st.sampled_from([100, 1000, 5000]))
        return (b"[" * depth + b"]" * depth) if draw(st.booleans()) else (b'{"a":' * depth + b"1" + b"}" * depth)
    if how == "binary":
        return draw(st.binary(max_size=40))
    digits = draw(st.sampled_from([20, 400, 5000]))
    return (b"n: " + b"9" * digits + b"\n" + raw) if as_yaml else (b'{"n": ' + b"9" * digits + b", " + raw[1:])


@dataclass
class Request:
    method: str
    path: str
    body: bytes
    content_type: str
    creates: bool = False

    def __repr__(self) -> str:
        return f"{self.method} {self.path} ({self.content_type}): {self.body[:400]!r}"


@st.composite
def requests_(draw: st.DrawFn) -> Request:
    target = draw(st.sampled_from(TARGETS))
    verb = draw(st.sampled_from(["create", "create", "replace", "merge", "strategic", "json-patch", "apply", "delete"]))
    name = draw(st.sampled_from(NAMES) | odd_text.filter(lambda s: "/" not in s and s not in (".", "..")))
    query = draw(st.sampled_from(["", "", "?fieldValidation=Warn", "?fieldValidation=Ignore", "?dryRun=All",
                                  "?fieldValidation=Nope"]))
    item = f"{target.path}/{quote(name, safe='') or 'x'}"
    as_yaml = draw(st.booleans())
    if verb == "delete":  # with generated DeleteOptions, so that creates can succeed again
        options = draw(st.fixed_dictionaries({}, optional={
            "propagationPolicy": st.sampled_from(["Foreground", "Background", "Orphan"]) | odd_text,
            "gracePeriodSeconds": numbers | odd_text, "dryRun": st.lists(odd_text | st.just("All"), max_size=2),
            "preconditions": st.dictionaries(st.sampled_from(["uid", "resourceVersion"]), values, max_size=2)}))
        return Request("DELETE", item + query, draw(body_bytes(options, False)), JSON)
    if verb == "json-patch":
        data, content_type = draw(json_patches(target)), JSON_PATCH
        as_yaml = False
    else:
        data = draw(objects(target))
        content_type = {"create": YAML if as_yaml else JSON, "replace": YAML if as_yaml else JSON, "merge": MERGE,
                        "strategic": STRATEGIC, "apply": APPLY}[verb]
        as_yaml = as_yaml if verb in ("create", "replace") else verb == "apply"
    named = data.get("metadata", {}).get("name") if isinstance(data, dict) and isinstance(data.get("metadata"), dict) else None
    if isinstance(named, str) and named and draw(st.integers(0, 4)) != 3:  # mostly the name the body has
        item = f"{target.path}/{quote(named, safe='')}"
    if draw(st.integers(0, 9)) == 5:  # now and then a content type that does not match, or none
        content_type = draw(st.sampled_from(["", "text/plain", "application/json; charset=latin1", YAML,
                                             "application/vnd.kubernetes.protobuf", "*/*"]))
    raw = draw(body_bytes(data, as_yaml))
    if verb == "apply":
        query = (query + "&" if query else "?") + draw(st.sampled_from(["fieldManager=fuzz", "fieldManager=fuzz&force=true",
                                                                         "", "fieldManager="]))
    if verb == "create":
        return Request("POST", target.path + query, raw, content_type, creates=True)
    return Request("PUT" if verb == "replace" else "PATCH", item + query, raw, content_type)


# -- the tests ---------------------------------------------------------------------------------------------


#: The resourceVersion each kind's list had before the fuzzing: the consistency check watches from there.
BEFORE: dict[str, str] = {}


def test_generated_bodies(http, tally: Tally):
    """hypothesis, YAML and JSON bodies for create, replace and the four patch types."""
    last = {"rv": 0}
    for target in TARGETS:
        BEFORE[target.plural] = http.get(target.path).json()["metadata"]["resourceVersion"]

    @fuzz_settings(CASES)
    @given(request=requests_())
    def one(request: Request) -> None:
        headers = {"Content-Type": request.content_type} if request.content_type else {}
        try:
            try:
                response = http.request(request.method, request.path, content=request.body, headers=headers)
            except httpx.RemoteProtocolError:  # a kept-alive connection the server closed as idle (after 5 s)
                response = http.request(request.method, request.path, content=request.body, headers=headers)
        except httpx.TimeoutException:
            pytest.fail(f"hung request (no answer in {REQUEST_TIMEOUT_S} s): {request!r}")
        tally.add(response.status_code)
        check_status(response.status_code, response.content, request.method, request.path, repr(request))
        if response.status_code < 300 and "dryRun" not in request.path and request.method != "DELETE":
            rv = int(response.json()["metadata"]["resourceVersion"])
            assert rv > last["rv"] if request.creates else rv >= last["rv"], f"resourceVersion went back: {request!r}"
            last["rv"] = rv

    one()
    assert http.get("/readyz").status_code == 200


#: Cases of list and watch parameters per run (times BERTH_FUZZ_FACTOR).
QUERY_CASES = 150
query_values = st.one_of(odd_text, numbers.map(str), st.sampled_from(["0", "1", "2", "true", "false", "Exact",
                                                                      "NotOlderThan", "a=b", "a in (b)", "!a"]))
QUERY = st.fixed_dictionaries({}, optional={
    name: query_values for name in ("limit", "continue", "resourceVersion", "resourceVersionMatch", "labelSelector",
                                    "fieldSelector", "allowWatchBookmarks", "sendInitialEvents", "watch")})


def test_list_and_watch_parameters(http, tally: Tally):
    """hypothesis, list and watch query parameters."""

    @fuzz_settings(QUERY_CASES)
    @given(target=st.sampled_from(TARGETS), params=QUERY, watch=st.booleans())
    def one(target: Target, params: dict[str, str], watch: bool) -> None:
        # A watch (asked for here, or by a generated `watch` the server reads as true) that sends what it has
        # and ends (timeoutSeconds=0), so that it can be read whole; a list ignores timeoutSeconds.
        params = {**params, "timeoutSeconds": "0", **({"watch": "true"} if watch else {})}
        sent = f"GET {target.path} {params}"
        try:
            with http.stream("GET", target.path, params=params) as response:
                body = response.read()  # a stream broken after its status line raises here
        except httpx.TimeoutException:
            pytest.fail(f"hung request (no answer in {REQUEST_TIMEOUT_S} s): {sent}")
        except httpx.RemoteProtocolError as exc:
            pytest.fail(f"the answer broke off ({exc}): {sent}")
        tally.add(response.status_code)
        check_status(response.status_code, body, "GET", target.path, sent)
        if response.status_code == 200 and not body.startswith(b'{"kind":'):  # a watch's event lines
            for line in body.split(b"\n")[:-1]:
                assert json.loads(line)["type"] in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"), sent

    one()


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.plural)
def test_the_store_is_consistent_afterwards(http, target: Target, record_property):
    """Every object listed reads the same alone, passes its schema, a paged list equals the whole list, and the
    watch events since the fuzzing began, replayed, leave the same objects."""
    listed = http.get(target.path)
    assert listed.status_code == 200, listed.text
    whole = listed.json()
    list_rv = int(whole["metadata"]["resourceVersion"])
    for item in whole["items"]:
        name = item["metadata"]["name"]
        alone = http.get(f"{target.path}/{quote(name, safe='')}")
        assert alone.status_code == 200, alone.text
        got = alone.json()
        if got["metadata"]["resourceVersion"] == item["metadata"]["resourceVersion"]:  # unless a controller wrote
            assert got == item
        assert int(item["metadata"]["resourceVersion"]) <= list_rv
        check_object(target.resource, item, "Strict")  # raises the 400/422 the server would give
    paged, token = [], ""
    while True:
        page = http.get(target.path, params={"limit": 2, "continue": token})
        assert page.status_code == 200, page.text
        paged += page.json()["items"]
        token = page.json()["metadata"].get("continue", "")
        if not token:
            break
    names = lambda items: [i["metadata"]["name"] for i in items]  # noqa: E731
    assert names(paged) == names(whole["items"])
    if target.plural in BEFORE:  # the changes since the fuzzing began, replayed, give the same objects
        replayed = _replay(http, target, BEFORE[target.plural], until=list_rv)
        assert replayed == {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in whole["items"]}
    record_property("summary", f"fuzz: afterwards {len(whole['items'])} {target.plural} listed, each read alone, "
                               "re-validated, listed again page by page and rebuilt from the watch events")


def _replay(http: httpx.Client, target: Target, since: str, until: int) -> dict[str, str]:
    """The objects (name: resourceVersion) that the watch events after `since` and up to `until` (the list's)
    leave, checking that their resourceVersions only increase. The watch is read until it has been quiet for
    half a second (a controller may still write: those later events are not replayed)."""
    objects: dict[str, str] = {}
    last = int(since)
    quiet = httpx.Timeout(REQUEST_TIMEOUT_S, read=0.5)
    with http.stream("GET", target.path, params={"watch": "true", "resourceVersion": since, "timeoutSeconds": 30},
                     timeout=quiet) as events:
        assert events.status_code == 200
        try:
            for line in _lines(events):
                event = json.loads(line)
                assert event["type"] in ("ADDED", "MODIFIED", "DELETED"), event
                meta = event["object"]["metadata"]
                rv = int(meta["resourceVersion"])
                assert rv > last, f"watch event {rv} after {last}: {event['type']} {meta['name']}"
                last = rv
                if rv > until:
                    continue
                if event["type"] == "DELETED":
                    objects.pop(meta["name"], None)
                else:
                    objects[meta["name"]] = meta["resourceVersion"]
        except httpx.ReadTimeout:
            pass
    return objects


def _lines(response: httpx.Response) -> Iterator[bytes]:
    """A watch's event lines, split at "\n" only: an object's strings may hold U+2028 or U+0085, which httpx's
    iter_lines (str.splitlines) also splits at."""
    pending = b""
    for chunk in response.iter_bytes():
        *lines, pending = (pending + chunk).split(b"\n")
        yield from lines
