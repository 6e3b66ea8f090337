"""Kubernetes protobuf request bodies (what `kubectl create namespace|configmap|secret|serviceaccount|service`
POSTs) decode into the JSON objects kubectl itself would have written.

Three kinds of evidence:
* bodies the real kubectl sent, stored under fixtures/protobuf (see the README there);
* the real kubectl, live, against a tiny recording HTTP server: each body must decode to exactly the JSON
  that `kubectl <same command> --dry-run=client -o json` prints;
* bodies built here, field by field, for what the generators never send (owner references, timestamps,
  managed fields, unknown fields of every wire type) and for malformed input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.apiserver.protobuf import MAGIC, UnsupportedProtobuf, decode

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"
KUBECTL = Path(sys.executable).parent / "kubectl"
BINARY = b"\xff\x00\xfebin"


# --- a minimal protobuf writer, for the bodies built here ----------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vi(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def ln(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field."""
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def entries(number: int, mapping: dict[str, bytes | str]) -> bytes:
    """A map<string, ...> field: one entry message per key."""
    return b"".join(ln(number, ln(1, k) + ln(2, v)) for k, v in mapping.items())


def envelope(api_version: str, kind: str, raw: bytes, extra: bytes = b"") -> bytes:
    """`k8s\\x00` + runtime.Unknown{typeMeta, raw, contentEncoding, contentType} as Go writes it."""
    return MAGIC + ln(1, ln(1, api_version) + ln(2, kind)) + ln(2, raw) + ln(3, b"") + ln(4, b"") + extra


def meta(name: str = "x", namespace: str = "", extra: bytes = b"") -> bytes:
    """ObjectMeta as the Go client writes it: every non-pointer field present, empty creationTimestamp."""
    return ln(1, ln(1, name) + ln(2, "") + ln(3, namespace) + ln(4, "") + ln(5, "") + ln(6, "") + vi(7, 0)
              + ln(8, b"") + extra)


# --- what the real kubectl sent --------------------------------------------------------------------------

#: fixture file -> the kubectl command that produced it, and the JSON `--dry-run=client -o json` prints.
CAPTURED: dict[str, tuple[list[str], dict]] = {
    "namespace-team-a.pb": (
        ["create", "namespace", "team-a"],
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}, "status": {}},
    ),
    "namespace-save-config.pb": (
        ["create", "namespace", "team-b", "--save-config"],
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "team-b", "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                      '{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"team-b"},"spec":{},"status":{}}\n'}},
         "spec": {}, "status": {}},
    ),
    "configmap-cm1.pb": (
        ["create", "configmap", "cm1", "--from-literal=a=b", "-n", "default"],
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1", "namespace": "default"},
         "data": {"a": "b"}},
    ),
    "configmap-binary.pb": (
        ["create", "configmap", "cm2", "--from-literal=a=b", "--from-literal=c=ü", "--from-file=blob={binary}",
         "--append-hash", "-n", "default"],
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm2-4cfc2t4gc5", "namespace": "default"},
         "data": {"a": "b", "c": "ü"}, "binaryData": {"blob": "/wD+Ymlu"}},
    ),
    "secret-s1.pb": (
        ["create", "secret", "generic", "s1", "--from-literal=k=v", "-n", "default"],
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": "default"},
         "data": {"k": "dg=="}},
    ),
    "secret-basic-auth.pb": (
        ["create", "secret", "generic", "s2", "--type=kubernetes.io/basic-auth", "--from-literal=username=u",
         "--from-literal=password=p"],
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s2"},
         "data": {"password": "cA==", "username": "dQ=="}, "type": "kubernetes.io/basic-auth"},
    ),
    "secret-docker-registry.pb": (
        ["create", "secret", "docker-registry", "reg", "--docker-server=r.io", "--docker-username=u",
         "--docker-password=p", "-n", "default"],
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "reg", "namespace": "default"},
         "data": {".dockerconfigjson": "eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgi"
                                       "OiJkVHB3In19fQ=="},
         "type": "kubernetes.io/dockerconfigjson"},
    ),
    "serviceaccount-sa1.pb": (
        ["create", "serviceaccount", "sa1"],
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa1"}},
    ),    "service-clusterip.pb": (
        ["create", "service", "clusterip", "svc1", "--tcp=80"],
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc1", "labels": {"app": "svc1"}}, "spec": {"ports": [{"name": "80", "protocol": "TCP", "port": 80, "targetPort": 80}], "selector": {"app": "svc1"}, "type": "ClusterIP"}, "status": {"loadBalancer": {}}},
    ),
    "service-two-ports.pb": (
        ["create", "service", "clusterip", "svc2", "--tcp=5678:8080", "--tcp=443"],
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc2", "labels": {"app": "svc2"}}, "spec": {"ports": [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080}, {"name": "443", "protocol": "TCP", "port": 443, "targetPort": 443}], "selector": {"app": "svc2"}, "type": "ClusterIP"}, "status": {"loadBalancer": {}}},
    ),
    "service-headless.pb": (
        ["create", "service", "clusterip", "headless", "--clusterip=None"],
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headless", "labels": {"app": "headless"}}, "spec": {"selector": {"app": "headless"}, "clusterIP": "None", "type": "ClusterIP"}, "status": {"loadBalancer": {}}},
    ),
    "service-nodeport.pb": (
        ["create", "service", "nodeport", "np1", "--tcp=5678:8080", "--node-port=30080"],
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np1", "labels": {"app": "np1"}}, "spec": {"ports": [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080, "nodePort": 30080}], "selector": {"app": "np1"}, "type": "NodePort"}, "status": {"loadBalancer": {}}},
    ),
    "service-loadbalancer.pb": (
        ["create", "service", "loadbalancer", "lb1", "--tcp=80:8080"],
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb1", "labels": {"app": "lb1"}}, "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}], "selector": {"app": "lb1"}, "type": "LoadBalancer"}, "status": {"loadBalancer": {}}},
    ),
    "service-externalname.pb": (
        ["create", "service", "externalname", "ext1", "--external-name=bar.example.com"],
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext1", "labels": {"app": "ext1"}}, "spec": {"selector": {"app": "ext1"}, "type": "ExternalName", "externalName": "bar.example.com"}, "status": {"loadBalancer": {}}},
    ),
}


@pytest.mark.parametrize("fixture", sorted(CAPTURED))
def test_bodies_kubectl_sent_decode_to_its_json(fixture):
    body = (FIXTURES / fixture).read_bytes()
    assert body.startswith(MAGIC)
    assert decode(body) == CAPTURED[fixture][1]


def test_decoded_keys_come_in_kubernetes_order():
    obj = decode((FIXTURES / "secret-basic-auth.pb").read_bytes())
    assert list(obj) == ["apiVersion", "kind", "metadata", "data", "type"]


class _Recorder(BaseHTTPRequestHandler):
    """Answers kubectl like an API server that understands protobuf: decodes the POST, echoes it as JSON."""

    protocol_version = "HTTP/1.1"
    bodies: list[tuple[str, str, bytes]]

    def _reply(self, code: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # discovery, in case a kubectl version asks for it
        path = self.path.split("?", 1)[0]
        if path == "/version":
            return self._reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        if path == "/api":
            return self._reply(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            return self._reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        return self._reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                                 "reason": "NotFound"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.bodies.append((self.path, self.headers.get("Content-Type", ""), body))
        try:
            obj = decode(body)
        except UnsupportedProtobuf as exc:
            return self._reply(415, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 415,
                                     "message": str(exc), "reason": "UnsupportedMediaType"})
        except ValueError as exc:
            return self._reply(400, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400,
                                     "message": str(exc), "reason": "BadRequest"})
        return self._reply(201, obj)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def recorder(tmp_path_factory) -> Iterator[tuple[dict[str, str], list[tuple[str, str, bytes]]]]:
    if not KUBECTL.exists():
        pytest.skip("kubectl is not installed next to the test interpreter")
    tmp = tmp_path_factory.mktemp("kubectl")
    bodies: list[tuple[str, str, bytes]] = []
    handler = type("Recorder", (_Recorder,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {}}],
    }))
    (tmp / "home").mkdir()
    (tmp / "blob.bin").write_bytes(BINARY)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp / "home"), "BINARY": str(tmp / "blob.bin")}
    try:
        yield env, bodies
    finally:
        server.shutdown()
        server.server_close()


def kubectl(env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[str]:
    args = [a.replace("{binary}", env["BINARY"]) for a in args]
    return subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("fixture", sorted(CAPTURED))
def test_live_kubectl_body_decodes_to_the_json_kubectl_would_send(recorder, fixture):
    env, bodies = recorder
    args, expected = CAPTURED[fixture]
    dry = kubectl(env, [*args, "--dry-run=client", "-o", "json"])
    assert dry.returncode == 0, dry.stderr
    as_json = json.loads(dry.stdout)
    if as_json["metadata"].get("creationTimestamp", "") is None:  # older kubectl versions print it
        del as_json["metadata"]["creationTimestamp"]

    bodies.clear()
    live = kubectl(env, args)
    assert live.returncode == 0, live.stderr
    kind = expected["kind"].lower()
    assert live.stdout.strip() == f"{kind}/{expected['metadata']['name']} created"
    [(path, content_type, body)] = bodies
    assert path.split("?", 1)[0].endswith(f"/{kind}s")
    assert content_type == "application/vnd.kubernetes.protobuf"
    assert decode(body) == as_json == expected
    if os.environ.get("BERTH_WRITE_PROTOBUF_FIXTURES"):
        (FIXTURES / fixture).write_bytes(body)


# --- bodies built here -----------------------------------------------------------------------------------

def test_every_object_meta_field():
    owner = (ln(5, "run.ai/v2alpha1") + ln(1, "TrainingWorkload") + ln(3, "job-1") + ln(4, "u-1")
             + vi(6, 1) + vi(7, 0))
    bare_owner = ln(1, "Pod")  # non-omitempty fields are written even when the wire leaves them out
    managed = (ln(1, "kubectl-client-side-apply") + ln(2, "Update") + ln(3, "v1") + ln(4, vi(1, 1_700_000_000))
               + ln(6, "FieldsV1") + ln(7, ln(1, '{"f:data":{"f:a":{}}}')) + ln(8, ""))
    metadata = (ln(1, "cm") + ln(2, "cm-") + ln(3, "ns") + ln(4, "/api/v1/x") + ln(5, "uid-1") + ln(6, "42")
                + vi(7, 3) + ln(8, vi(1, 1_700_000_000) + vi(2, 5)) + ln(9, vi(1, 1_700_000_030))
                + vi(10, 0) + entries(11, {"app": "web", "tier": ""}) + ln(11, ln(1, "bare"))
                + entries(12, {"note": "ü"}) + ln(13, owner) + ln(13, bare_owner)
                + ln(14, "a/b") + ln(14, "kubernetes") + ln(17, managed))
    obj = decode(envelope("v1", "ConfigMap", ln(1, metadata)))
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "cm", "generateName": "cm-", "namespace": "ns", "selfLink": "/api/v1/x", "uid": "uid-1",
        "resourceVersion": "42", "generation": 3, "creationTimestamp": "2023-11-14T22:13:20Z",
        "deletionTimestamp": "2023-11-14T22:13:50Z", "deletionGracePeriodSeconds": 0,
        "labels": {"app": "web", "tier": "", "bare": ""}, "annotations": {"note": "ü"},
        "ownerReferences": [
            {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "name": "job-1", "uid": "u-1",
             "controller": True, "blockOwnerDeletion": False},
            {"apiVersion": "", "kind": "Pod", "name": "", "uid": ""},
        ],
        "finalizers": ["a/b", "kubernetes"],
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                           "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:data": {"f:a": {}}}}],
    }}
    assert list(obj["metadata"])[:3] == ["name", "generateName", "namespace"]


def test_namespace_spec_and_status():
    condition = ln(1, "NamespaceDeletionContentFailure") + ln(2, "False") + ln(4, vi(1, 0)) + ln(5, "Done")
    raw = meta("team-a") + ln(2, ln(1, "kubernetes")) + ln(3, ln(1, "Terminating") + ln(2, condition))
    assert decode(envelope("v1", "Namespace", raw)) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Terminating", "conditions": [
            {"type": "NamespaceDeletionContentFailure", "status": "False",
             "lastTransitionTime": "1970-01-01T00:00:00Z", "reason": "Done"}]},
    }


def test_namespace_without_spec_or_status_has_none():
    assert decode(envelope("v1", "Namespace", meta("n"))) == {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": "n"}}


def test_configmap_binary_data_and_immutable_false_is_kept():
    raw = meta("cm", "default") + entries(2, {"k": "v"}) + entries(3, {"b": b"\x00\x01\xff"}) + vi(4, 0)
    assert decode(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
        "immutable": False, "data": {"k": "v"}, "binaryData": {"b": "AAH/"},
    }


def test_secret_every_field():
    raw = (meta("s", "default") + entries(2, {"key": b"\xde\xad", "empty": b""}) + ln(3, "Opaque")
           + entries(4, {"plain": "text"}) + vi(5, 1))
    assert decode(envelope("v1", "Secret", raw)) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
        "immutable": True, "data": {"key": "3q0=", "empty": ""}, "stringData": {"plain": "text"},
        "type": "Opaque",
    }


def test_service_account_every_field():
    ref = ln(1, "Secret") + ln(2, "default") + ln(3, "tok") + ln(4, "u") + ln(5, "v1") + ln(6, "7") + ln(7, "")
    raw = meta("sa") + ln(2, ref) + ln(2, ln(3, "other")) + ln(3, ln(1, "pull")) + ln(3, b"") + vi(4, 0)
    assert decode(envelope("v1", "ServiceAccount", raw)) == {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
        "secrets": [{"kind": "Secret", "namespace": "default", "name": "tok", "uid": "u", "apiVersion": "v1",
                     "resourceVersion": "7"}, {"name": "other"}],
        "imagePullSecrets": [{"name": "pull"}, {}],
        "automountServiceAccountToken": False,
    }


def test_unknown_fields_of_every_wire_type_are_skipped():
    unknown = (vi(99, 12345) + varint(98 << 3 | 1) + b"8bytes!!" + varint(97 << 3 | 5) + b"4byt"
               + ln(96, b"\xff\xfe not even utf-8") + varint(95 << 3 | 3) + vi(1, 7)
               + varint(94 << 3 | 3) + ln(2, "nested") + varint(94 << 3 | 4) + varint(95 << 3 | 4))
    raw = ln(1, ln(1, "cm") + unknown + ln(16, "initializers, long gone")) + unknown + entries(2, {"a": "b"})
    body = MAGIC + unknown + ln(1, ln(1, "v1") + unknown + ln(2, "ConfigMap")) + ln(2, raw) + unknown
    assert decode(body) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
                            "data": {"a": "b"}}


def test_the_last_occurrence_of_a_singular_field_wins_and_map_keys_merge():
    raw = ln(1, ln(1, "first") + ln(1, "second")) + entries(2, {"a": "1", "b": "2"}) + entries(2, {"a": "3"})
    obj = decode(envelope("v1", "ConfigMap", raw))
    assert obj["metadata"] == {"name": "second"}
    assert obj["data"] == {"a": "3", "b": "2"}


def test_negative_int64_is_twos_complement():
    raw = ln(1, ln(1, "x") + vi(7, -1) + vi(10, -30))
    assert decode(envelope("v1", "ConfigMap", raw))["metadata"] == {
        "name": "x", "generation": -1, "deletionGracePeriodSeconds": -30}


def test_envelope_content_type_may_name_protobuf():
    body = MAGIC + ln(1, ln(1, "v1") + ln(2, "ServiceAccount")) + ln(2, meta("sa")) + ln(
        4, "application/vnd.kubernetes.protobuf")
    assert decode(body) == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}


@pytest.mark.parametrize(("api_version", "kind"), [
    ("apps/v1", "Deployment"), ("v1", "Pod"), ("v2", "Namespace"), ("", "ConfigMap"),
])
def test_other_kinds_are_unsupported(api_version, kind):
    with pytest.raises(UnsupportedProtobuf) as info:
        decode(envelope(api_version, kind, meta("x")))
    assert info.value.kind == kind and info.value.api_version == api_version
    assert kind in str(info.value)
    assert not isinstance(info.value, ValueError)  # a 415, not a 400


GOOD_TYPE = ln(1, ln(1, "v1") + ln(2, "ConfigMap"))


@pytest.mark.parametrize(("body", "message"), [
    (b"", "magic"),
    (b'{"apiVersion": "v1", "kind": "Namespace"}', "magic"),
    (b"k8s", "magic"),
    (MAGIC + b"\x0a", "truncated varint"),
    (MAGIC + b"\x0a\x80\x80", "truncated varint"),
    (MAGIC + b"\x08" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
    (MAGIC + b"\x0a\x05v1", "5 bytes long but only 2 remain"),
    (MAGIC + b"\x00\x00", "field number 0"),
    (MAGIC + b"\x0e", "invalid wire type 6"),
    (MAGIC + varint(9 << 3 | 4), "end-group tag 9 without a group"),
    (MAGIC + varint(9 << 3 | 3) + vi(1, 1), "group 9 is not closed"),
    (MAGIC + varint(9 << 3 | 3) + varint(8 << 3 | 4), "group 9 closed as group 8"),
    (MAGIC + varint(9 << 3 | 5) + b"ab", "truncated fixed32"),
    (MAGIC + ln(2, meta("x")), "names no kind"),
    (MAGIC + vi(1, 5) + ln(2, meta("x")), "field 1 has wire type varint, expected length-delimited"),
    (MAGIC + GOOD_TYPE + ln(2, meta("x")) + ln(3, "gzip"), "content encoding 'gzip'"),
    (MAGIC + GOOD_TYPE + ln(2, b"{}") + ln(4, "application/json"), "holds 'application/json'"),
    (MAGIC + ln(1, ln(1, "v1") + ln(2, b"Config\xffMap")) + ln(2, b""), "not UTF-8"),
    (envelope("v1", "ConfigMap", ln(1, vi(1, 5))), "in ConfigMap.metadata.name: field 1 has wire type varint"),
    (envelope("v1", "ConfigMap", ln(1, ln(1, b"\xc3"))), "ConfigMap.metadata.name: not UTF-8"),
    (envelope("v1", "ConfigMap", ln(1, ln(7, "3"))), "field 7 has wire type length-delimited, expected varint"),
    (envelope("v1", "ConfigMap", ln(1, b"\x0a\x09short")), "9 bytes long but only 5 remain"),
    (envelope("v1", "ConfigMap", entries(2, {b"\xff": "v"})), "ConfigMap.data key: not UTF-8"),
    (envelope("v1", "ConfigMap", entries(2, {"k": b"\xff"})), "ConfigMap.data['k']: not UTF-8"),
    (envelope("v1", "ConfigMap", ln(1, ln(8, vi(2, 1_000_000_000)))), "nanos 1000000000 out of range"),
    (envelope("v1", "ConfigMap", ln(1, ln(8, vi(1, 1 << 62)))), "out of range"),
    (envelope("v1", "ConfigMap", ln(1, ln(17, ln(7, ln(1, "{nope"))))), "fieldsV1: not JSON"),
    (envelope("v1", "Secret", vi(5, 1) + ln(5, b"")), "field 5 has wire type length-delimited"),
])
def test_malformed_bodies_raise_value_error(body, message):
    with pytest.raises(ValueError, match="malformed protobuf") as info:
        decode(body)
    assert message in str(info.value)


_keys = st.text(min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(labels=st.dictionaries(_keys, st.text(max_size=30), max_size=5),
       data=st.dictionaries(_keys, st.text(max_size=50), max_size=5),
       binary=st.dictionaries(_keys, st.binary(max_size=50), max_size=5),
       immutable=st.none() | st.booleans())
def test_configmaps_round_trip(labels, data, binary, immutable):
    import base64

    raw = (meta("cm", "default", entries(11, labels)) + entries(2, data) + entries(3, binary)
           + (b"" if immutable is None else vi(4, int(immutable))))
    expected: dict = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "cm", "namespace": "default", **({"labels": labels} if labels else {})}}
    if immutable is not None:
        expected["immutable"] = immutable
    if data:
        expected["data"] = data
    if binary:
        expected["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    assert decode(envelope("v1", "ConfigMap", raw)) == expected


def test_deeply_nested_unknown_groups_are_skipped_without_recursion():
    numbers = range(100, 100_000)
    opening = b"".join(varint(n << 3 | 3) for n in numbers)
    closing = b"".join(varint(n << 3 | 4) for n in reversed(numbers))
    assert decode(envelope("v1", "ServiceAccount", meta("sa") + opening + closing))["metadata"] == {"name": "sa"}
    with pytest.raises(ValueError, match="group 100 is not closed"):
        decode(envelope("v1", "ServiceAccount", meta("sa") + opening + closing[: -len(varint(100 << 3 | 4))]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_the_two_errors(junk):
    for body in (MAGIC + junk, envelope("v1", "Secret", junk), envelope("v1", "Namespace", junk)):
        try:
            decode(body)
        except (ValueError, UnsupportedProtobuf):
            pass
