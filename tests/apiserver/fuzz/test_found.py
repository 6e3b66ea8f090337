"""What fuzzing the API server found, each input named, so that it stays fixed."""

from __future__ import annotations

import json
import socket

import pytest

from berth.apiserver.startup import listen


def test_the_listener_sends_without_waiting_for_acks():
    """Found while timing the fuzz run: every response took 44 ms, since uvicorn writes a response's headers and
    body as two TLS records and, without TCP_NODELAY, the body waited for the client's delayed ACK."""
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


# -- YAML bodies: each of these was a 500 (or, for the aliases, a request that ran out of memory) --------------

CM = "/api/v1/namespaces/fuzz/configmaps"


def _yaml(http, body: str, path: str = CM, method: str = "POST", content_type: str = "application/yaml"):
    return http.request(method, path, content=body.encode(), headers={"Content-Type": content_type})


def _configmap(data: str, name: str = "found") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {data}\n"


@pytest.mark.parametrize(("data", "message"), [
    ("{a: " + "9" * 5000 + "}", "is too large: quote it to make it a string"),  # ValueError: int string conversion
    ("{a: " + "9" * 400 + "}", "is too large: quote it to make it a string"),  # a float overflow
    ("{a: .nan}", ".nan is not a number JSON can hold"),
    ("{a: -.inf}", "-.inf is not a number JSON can hold"),
    ("{? [1, 2] : a}", "a field name must be a string, not a list"),  # TypeError: unhashable type: 'list'
    ("{null: a}", "a field name must be a string, not null"),
    ("{a: !!binary aGVsbG8=}", "the YAML tag !!binary has no JSON equivalent"),  # bytes, which JSON cannot hold
    ("{a: !!set {x}}", "the YAML tag !!set has no JSON equivalent"),
])
def test_yaml_that_json_cannot_hold_is_400_and_says_what_to_write(http, data, message):
    r = _yaml(http, _configmap(data))
    assert r.status_code == 400, r.text
    assert r.json()["reason"] == "BadRequest" and message in r.json()["message"]
    assert http.get(f"{CM}/found").status_code == 404


def test_yaml_number_and_boolean_field_names_become_strings_as_in_kubernetes(http):
    r = _yaml(http, _configmap("{1: one, true: t, 1.5: x}", name="keys"))  # 1 and true were one key in Python
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {"1": "one", "true": "t", "1.5": "x"}


def test_an_apply_patch_with_a_list_as_field_name_is_400(http):
    r = _yaml(http, _configmap("{? [1] : a}", name="applied"), f"{CM}/applied?fieldManager=fuzz", "PATCH",
              "application/apply-patch+yaml")
    assert r.status_code == 400 and "a field name must be a string" in r.json()["message"]


def test_yaml_aliases_that_expand_a_billion_times_are_refused_at_once(http):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]  # 12 lines that expand to 10^11 strings
    lines += [f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]" for p, c in zip("abcdefghij", "bcdefghijk")]
    r = _yaml(http, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: laughs}\ndata:\n  " + "\n  ".join(lines))
    assert r.status_code == 400, r.text
    assert "aliases (*name) expand to far more than the text holds" in r.json()["message"]


def test_yaml_aliases_within_reason_are_expanded(http):
    body = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aliased\n  labels: &l {team: a}\n"
            "  annotations: *l\n")
    r = http.post(CM, content=body.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["annotations"] == {"team": "a"}


# -- depth: each of these was a 500 (RecursionError, or orjson's "Recursion limit reached" when storing) ------

PODS = "/api/v1/namespaces/fuzz/pods"


def _nested(depth: int) -> dict:
    value: dict = {"x": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def _pod(name: str, extra: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "ubuntu"}], **extra}}


def test_a_json_body_nested_300_deep_is_400(http):
    r = http.post(PODS, json=_pod("deep", {"x": _nested(300)}))
    assert r.status_code == 400, r.text
    assert r.json()["message"] == ("the request body nests lists and maps more than 100 levels deep, which no "
                                   "Kubernetes object does")


def test_a_yaml_body_nested_900_deep_is_400(http):
    r = _yaml(http, '{"a":' * 900 + "1" + "}" * 900)
    assert r.status_code == 400, r.text
    assert "nests lists and maps hundreds of levels deep" in r.json()["message"]


def test_a_block_yaml_body_nested_150_deep_without_a_bracket_is_400(http):
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep-block\nx:\n" + "".join(
        "  " * (i + 1) + "x:\n" for i in range(150)) + "  " * 151 + "y: 1\n"
    assert "{" not in body and "[" not in body
    r = _yaml(http, body)
    assert r.status_code == 400, r.text
    assert "more than 100 levels deep" in r.json()["message"]


def test_patches_that_nest_an_object_too_deep_to_store_are_422_and_change_nothing(http):
    assert http.post(PODS, json=_pod("grows", {"x": _nested(90)})).status_code == 201
    path = "/spec" + "/x" * 90
    grown = http.patch(f"{PODS}/grows", content=json.dumps([{"op": "replace", "path": path, "value": _nested(90)}]),
                       headers={"Content-Type": "application/json-patch+json"})
    assert grown.status_code == 200, grown.text
    path += "/x" * 90
    r = http.patch(f"{PODS}/grows", content=json.dumps([{"op": "replace", "path": path, "value": _nested(90)}]),
                   headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 422, r.text
    assert "the object would nest lists and maps more than 250 levels deep" in r.json()["message"]
    assert http.get(f"{PODS}/grows").json()["metadata"]["resourceVersion"] == grown.json()["metadata"]["resourceVersion"]


# -- paths with tabs and newlines ---------------------------------------------------------------------------


def test_a_namespace_with_a_newline_reaches_the_api_server(http):
    r = http.get("/api/v1/namespaces/%0A/pods")  # Starlette's route did not match: a plain-text "Not Found"
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "PodList" and r.json()["items"] == []


def test_a_name_of_a_tab_and_a_newline_is_not_found_not_a_method_not_allowed(http):
    r = http.patch(f"{CM}/%09%0A", content=b"{}", headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 404, r.text  # urlsplit dropped the name, which made it a PATCH of the collection: 405
    assert r.json()["message"] == 'configmaps "\t\n" not found'


# -- DeleteOptions: each of these was a 500 (AttributeError on a non-object, ValueError from int()) ------------


@pytest.mark.parametrize(("body", "query", "message"), [
    ('"x"', "", "json: cannot unmarshal string into Go value of type v1.DeleteOptions"),
    ("1", "", "json: cannot unmarshal number into Go value of type v1.DeleteOptions"),
    ('{"preconditions": "x"}', "", "DeleteOptions.preconditions must be an object"),
    ('{"gracePeriodSeconds": "x", "propagationPolicy": "Foreground"}', "",
     'gracePeriodSeconds must be a whole number of seconds, not "x"'),
    ("", "?gracePeriodSeconds=x&propagationPolicy=Orphan", 'gracePeriodSeconds must be a whole number of seconds'),
    ("", "?gracePeriodSeconds=99999999999999999999&propagationPolicy=Orphan", "gracePeriodSeconds must be a whole"),
])
def test_delete_options_of_the_wrong_shape_are_400_and_delete_nothing(http, body, query, message):
    http.post(CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}})
    r = http.request("DELETE", f"{CM}/kept{query}", content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    kept = http.get(f"{CM}/kept").json()
    assert "deletionTimestamp" not in kept["metadata"]


def test_a_whole_grace_period_still_deletes(http):
    http.post(CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "graceful"}})
    r = http.request("DELETE", f"{CM}/graceful", content=b'{"gracePeriodSeconds": 5.0}',
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert http.get(f"{CM}/graceful").status_code == 404


def test_a_warning_about_an_unknown_field_named_in_unicode_is_sent_escaped(http):
    """Was a 500: the Warning header could not be written in Latin-1 (found with fieldValidation=Warn)."""
    r = http.post("/apis/run.ai/v2alpha1/namespaces/fuzz/trainingworkloads?fieldValidation=Warn", json={
        "apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": "warned"},
        "spec": {"gpu": {"value": "1"}, "image": {"value": "ubuntu"}, "größe\n": {"value": "1"}}})
    assert r.status_code == 201, r.text
    assert r.headers["warning"] == '299 - "unknown field \\"spec.gr\\xf6\\xdfe\\n\\""'


# -- list and watch parameters beyond 64 bits: a 500, and a watch stream broken mid-way ------------------------


def test_a_list_limit_beyond_64_bits_is_400(http):
    r = http.get(f"{CM}?limit=99999999999999999999")  # OverflowError binding it to SQLite
    assert r.status_code == 400, r.text
    assert "must be numbers below 2^63" in r.json()["message"]


def test_a_watch_from_a_resource_version_beyond_64_bits_ends_with_an_error_event(http):
    with http.stream("GET", f"{CM}?watch=true&timeoutSeconds=1&resourceVersion=999999999999999999999999") as r:
        lines = list(r.iter_lines())  # the stream broke off ("incomplete chunked read") after the 200
    assert r.status_code == 200
    assert [json.loads(line)["type"] for line in lines] == ["ERROR"]
    assert json.loads(lines[0])["object"]["message"] == 'invalid resourceVersion "999999999999999999999999"'
