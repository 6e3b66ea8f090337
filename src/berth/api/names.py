"""Names, label keys and values as Kubernetes spells them.

This is kube-apiserver's syntax (`k8s.io/apimachinery/pkg/util/validation`): each check returns
the problems in the real server's words ("must be no more than 63 characters", "a lowercase RFC 1123
label must consist of..."), so that `berth up` refuses what a real cluster refuses and kubectl prints the
same lines. The API server applies them to every object's metadata (`berth.apiserver.metadata`).

What a workload's children are named, and why that bounds the workload's own name, is
`berth.api.children`.
"""

from __future__ import annotations

import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
#: Keys and values of all annotations of one object together (ValidateAnnotationsSize).
ANNOTATIONS_MAX_BYTES = 256 * 1024

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED + r")?"


def _regex_error(message: str, regex: str, *examples: str) -> str:
    """kube's RegexError: the message, examples and the regex, worded exactly as the real server."""
    shown = "".join(f"{' or ' if i else ''}'{e}', " for i, e in enumerate(examples))
    return f"{message} (e.g. {shown}regex used for validation is '{regex}')"


DNS1123_LABEL_MESSAGE = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character", _DNS1123_LABEL, "my-name", "123-abc")
DNS1123_SUBDOMAIN_MESSAGE = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character", _DNS1123_SUBDOMAIN, "example.com")
DNS1035_LABEL_MESSAGE = _regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character", _DNS1035_LABEL, "my-name", "abc-123")
QUALIFIED_NAME_MESSAGE = _regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character", _QUALIFIED, "MyName", "my.name", "123-abc")
LABEL_VALUE_MESSAGE = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character", _LABEL_VALUE, "MyValue", "my_value", "12345")


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _check(value: str, regex: str, message: str, limit: int) -> list[str]:
    problems = [_too_long(limit)] if len(value) > limit else []
    if not re.fullmatch(regex, value):
        problems.append(message)
    return problems


def dns1123_label(value: str) -> list[str]:
    """IsDNS1123Label: namespaces; Service port names."""
    return _check(value, _DNS1123_LABEL, DNS1123_LABEL_MESSAGE, DNS1123_LABEL_MAX)


def dns1123_subdomain(value: str) -> list[str]:
    """IsDNS1123Subdomain: most objects' names (pods, ConfigMaps, custom resources...)."""
    return _check(value, _DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN_MAX)


def dns1035_label(value: str) -> list[str]:
    """IsDNS1035Label: Service names (they become DNS names that must not start with a digit)."""
    return _check(value, _DNS1035_LABEL, DNS1035_LABEL_MESSAGE, DNS1123_LABEL_MAX)


def qualified_name(value: str) -> list[str]:
    """IsQualifiedName: label and annotation keys, `[prefix/]name` with a DNS subdomain as the prefix."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["a qualified name " + QUALIFIED_NAME_MESSAGE
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    problems = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems += ["prefix part " + p for p in dns1123_subdomain(prefix)]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        problems.append("name part " + _too_long(QUALIFIED_NAME_MAX))
    if name and not re.fullmatch(_QUALIFIED, name):
        problems.append("name part " + QUALIFIED_NAME_MESSAGE)
    return problems


def label_value(value: str) -> list[str]:
    """IsValidLabelValue: empty, or at most 63 characters of letters, digits, '-', '_' and '.'."""
    return _check(value, _LABEL_VALUE, LABEL_VALUE_MESSAGE, LABEL_VALUE_MAX)
