"""Label and field selectors: what `kubectl get -l ...` and `--field-selector ...` select, and what they reject."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.store import FieldSelector, LabelSelector, SelectorError

LABELS = {"app": "web", "tier": "front", "env": "prod", "gpus": "4", "example.com/team": "a", "empty": ""}


@pytest.mark.parametrize(("text", "expected"), [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),             # != holds for an absent label
    ("missing=x", False),
    ("app", True),                    # exists
    ("missing", False),
    ("!missing", True),               # does not exist
    ("!app", False),
    ("! app", False),
    ("app in (web,db)", True),
    ("app in (db)", False),
    ("app in(web)", True),
    ("app  in  ( db , web )", True),
    ("missing in (x)", False),
    ("app notin (db,cache)", True),
    ("app notin (web)", False),
    ("missing notin (x)", True),      # notin holds for an absent label
    ("empty=", True),                 # the empty value
    ("empty==", True),
    ("app=", False),
    ("app!=", True),
    ("empty in ()", True),            # () is the set holding the empty value
    ("empty in (x,)", True),          # a trailing comma adds the empty value
    ("app in (,web)", True),
    ("app in (db,,cache)", False),
    ("gpus>3", True),
    ("gpus>4", False),
    ("gpus<5", True),
    ("gpus<4", False),
    ("app>1", False),                 # a label that is not a number never satisfies > or <
    ("missing<10", False),
    ("example.com/team=a", True),
    ("example.com/team in (b)", False),
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("app=web, tier in (front), !missing, env", True),
    ("app=web,!env", False),
    ("x=in", False),                  # keywords are ordinary values outside operator position
])
def test_label_selector_matches(text: str, expected: bool) -> None:
    assert LabelSelector.parse(text).matches(LABELS) is expected


def test_label_selector_on_objects_without_labels() -> None:
    assert LabelSelector.parse("!app").matches(None)
    assert LabelSelector.parse("app!=web").matches(None)
    assert not LabelSelector.parse("app").matches(None)
    assert not LabelSelector.parse("app in (web)").matches({})
    assert LabelSelector.parse("").matches(None)


@pytest.mark.parametrize(("text", "message"), [
    ("app=web,", "found '', expected: identifier after ','"),
    (",app", "found ',', expected: !, identifier, or 'end of string'"),
    ("app=web tier=front", "found 'tier', expected: ',' or 'end of string'"),
    ("app in web", "unable to parse requirement: found 'web', expected: '('"),
    ("app in (web", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("app in (web db)", "unable to parse requirement: found 'db', expected: ',' or ')'"),
    ("app in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
    ("app within (x)", "unable to parse requirement: found 'within', expected: in, notin, =, ==, !=, gt, lt"),
    ("app=(x)", "unable to parse requirement: found '(', expected: identifier"),
    ("=web", "found '=', expected: !, identifier, or 'end of string'"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("!app=web", "found '=', expected: ',' or 'end of string'"),
    ("app=a=b", "found '=', expected: ',' or 'end of string'"),
    ("gpus>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value "
               "must be an integer"),
    ("-app=web", 'unable to parse requirement: key: Invalid value: "-app": name part must consist of'),
    ("a/b/c=x", 'unable to parse requirement: key: Invalid value: "a/b/c": a qualified name must consist of'),
    ("Example.com/app=x", 'key: Invalid value: "Example.com/app": prefix part a lowercase RFC 1123 subdomain'),
    ("/app=x", "prefix part must be non-empty"),
    ("example.com/=x", "name part must be non-empty"),
    ("a" * 64 + "=x", "name part must be no more than 63 characters"),
    ("app=" + "v" * 64, "must be no more than 63 characters"),
    ("app=web_", "unable to parse requirement: values[0][app]: Invalid value: \"web_\""),
    ("app=web!", "found '!', expected: ',' or 'end of string'"),
    ("app in (ok,-bad)", 'values[0][app]: Invalid value: "-bad": a valid label must be an empty string'),
])
def test_label_selector_rejects(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.parse(text)
    assert message in str(info.value)


def test_label_selector_text_round_trips() -> None:
    text = "app=web,env!=dev,tier in (back,front),x notin (a),gpus>2,ok,!gone"
    selector = LabelSelector.parse(text)
    assert str(selector) == text
    assert LabelSelector.parse(str(selector)) == selector
    assert LabelSelector.parse("tier in (front,back)") == LabelSelector.parse("tier in (back, front, back)")
    assert LabelSelector.parse("").empty() and not selector.empty()


OBJ = {
    "metadata": {"name": "job1", "namespace": "team-a", "labels": {"app": "web"}},
    "spec": {"nodeName": "", "replicas": 3, "suspend": False},
    "status": {"phase": "Running"},
    "involvedObject": {"kind": "TrainingWorkload", "name": "job1"},
}


@pytest.mark.parametrize(("text", "expected"), [
    ("", True),
    ("metadata.name=job1", True),
    ("metadata.name==job1", True),
    ("metadata.name=job2", False),
    ("metadata.name!=job2", True),
    ("metadata.name!=job1", False),
    ("spec.nodeName=", True),         # present but empty
    ("spec.nodeName!=", False),
    ("spec.missing=", True),          # a missing field reads as ""
    ("spec.missing!=", False),
    ("spec.missing.deeper=", True),
    ("metadata.name.deeper=", True),  # walking into a string finds nothing
    ("status.phase==Running", True),
    ("status.phase!=Running", False),
    ("spec.replicas=3", True),        # non-strings compare as their JSON text
    ("spec.suspend=false", True),
    # terms arrive in any order (Go map iteration in clients)
    ("involvedObject.name=job1,involvedObject.kind=TrainingWorkload,metadata.namespace=team-a", True),
    ("metadata.namespace=team-a,involvedObject.name=job2", False),
])
def test_field_selector_matches(text: str, expected: bool) -> None:
    assert FieldSelector.parse(text).matches(OBJ) is expected


def test_field_selector_escapes() -> None:
    obj = {"metadata": {"name": "a,b=c\\d"}}
    selector = FieldSelector.parse(r"metadata.name=a\,b\=c\\d")
    assert selector.matches(obj)
    assert FieldSelector.parse(str(selector)) == selector
    assert not FieldSelector.parse(r"metadata.name=a\,b").matches(obj)


@pytest.mark.parametrize(("text", "message"), [
    ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("metadata.name=x,bogus", "can't understand 'bogus'"),
    ("=x", "no field name"),
    ("metadata.name=a=b", "unescaped '=' in value"),
    (r"metadata.name=a\b", "invalid escape sequence"),
])
def test_field_selector_rejects(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        FieldSelector.parse(text)
    assert message in str(info.value)


def test_field_selector_reports_fields_and_equalities() -> None:
    selector = FieldSelector.parse("status.phase!=Failed,metadata.name=job1,status.phase!=Succeeded")
    assert selector.fields() == ["status.phase", "metadata.name"]
    assert selector.required_value("metadata.name") == "job1"
    assert selector.required_value("status.phase") is None  # only != terms
    assert FieldSelector.parse("a=b,").fields() == ["a"]  # an empty trailing term is ignored


LABEL_KEYS = st.sampled_from(["app", "tier", "example.com/team", "a.b-c_d", "x9"])
LABEL_VALUES = st.sampled_from(["", "web", "db", "1", "42", "a.b-c_d"])
REQUIREMENTS = st.one_of(
    st.builds(lambda k, op, v: f"{k}{op}{v}", LABEL_KEYS, st.sampled_from(["=", "==", "!="]), LABEL_VALUES),
    st.builds(lambda k, op, vs: f"{k} {op} ({','.join(vs)})", LABEL_KEYS, st.sampled_from(["in", "notin"]),
              st.lists(LABEL_VALUES, min_size=1, max_size=3)),
    st.builds(lambda k, op, n: f"{k}{op}{n}", LABEL_KEYS, st.sampled_from([">", "<"]), st.integers(0, 50)),
    st.builds(lambda neg, k: f"{'!' if neg else ''}{k}", st.booleans(), LABEL_KEYS),
)
LABEL_SETS = st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=4)


@given(st.lists(REQUIREMENTS, max_size=5), LABEL_SETS)
def test_a_printed_label_selector_parses_back_to_the_same_selector(requirements: list[str], labels: dict) -> None:
    selector = LabelSelector.parse(",".join(requirements))
    again = LabelSelector.parse(str(selector))
    assert again == selector
    assert again.matches(labels) == selector.matches(labels)
    # A conjunction: the whole matches exactly when every requirement alone does.
    assert selector.matches(labels) == all(LabelSelector.parse(r).matches(labels) for r in requirements)
