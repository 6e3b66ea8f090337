"""Kubernetes' name syntax, in its own words (berth.api.names)."""

from __future__ import annotations

import pytest

from berth.api import names


@pytest.mark.parametrize("key", ["app", "example.com/MyName", "my.name", "123-abc", "a_b", "run.ai/workload-name"])
def test_valid_label_keys(key):
    assert names.qualified_name(key) == []


@pytest.mark.parametrize(("key", "start"), [
    ("a/b/c", "a qualified name must consist of"),
    ("/x", "prefix part must be non-empty"),
    ("x/", "name part must be non-empty"),
    ("Example.com/x", "prefix part a lowercase RFC 1123 subdomain"),
    ("-x", "name part must consist of alphanumeric characters"),
    ("n" * 64, "name part must be no more than 63 characters"),
])
def test_invalid_label_keys_say_which_part(key, start):
    assert names.qualified_name(key)[0].startswith(start)


def test_label_values_may_be_empty_but_not_long_or_odd():
    assert names.label_value("") == [] and names.label_value("v1.2_x-Y") == []
    assert names.label_value("v" * 64) == ["must be no more than 63 characters"]
    assert names.label_value("a b")[0].startswith("a valid label must be an empty string or consist of")


def test_a_service_name_is_a_dns_1035_label():
    assert names.dns1035_label("svc-1") == []
    assert names.dns1035_label("1svc")[0].startswith("a DNS-1035 label must")
    assert names.dns1123_label("1svc") == []
    assert names.dns1123_subdomain("a.b") == [] and names.dns1123_label("a.b") != []
