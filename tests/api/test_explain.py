"""`berth explain` documents kinds and fields offline, in the layout of kubectl explain."""

from __future__ import annotations

import pytest

from berth.api.explain import ExplainError, explain


def test_scalar_field_in_the_seed_layout():
    text = explain("trainingworkload.spec.nodeType")
    lines = text.splitlines()
    assert lines[:5] == ["KIND:     TrainingWorkload", "VERSION:  run.ai/v2alpha1", "",
                         "RESOURCE: nodeType <Object>", ""]
    assert lines[5] == "DESCRIPTION:"
    description = " ".join(" ".join(lines[6:lines.index("FIELDS:")]).split())
    assert "run.ai/type" in description
    assert "project-based affinity" in description
    fields = [line for line in lines[lines.index("FIELDS:") + 1:] if line.startswith("   ") and not line.startswith("     ")]
    assert fields == ["   value\t<string>"]


def test_itemized_field_shows_its_items_map_and_members():
    text = explain("tw.spec.ports")
    assert "RESOURCE: ports <Object>" in text
    assert "   items\t<map[string]Object>" in text
    member = explain("tw.spec.ports.items.value.container")
    assert "FIELD:    container <integer>" in member
    assert "Port the container listens on" in member


def test_top_level_kind_lists_its_fields():
    text = explain("TrainingWorkload")
    assert text.startswith("KIND:     TrainingWorkload\nVERSION:  run.ai/v2alpha1\n\nDESCRIPTION:\n")
    assert "   metadata\t<ObjectMeta>" in text
    assert "   spec\t<Object> -required-" in text
    assert "   status\t<Object>" in text


@pytest.mark.parametrize("name", ["trainingworkload", "TrainingWorkload", "trainingworkloads", "tw", "TW",
                                  "trainingworkloads.run.ai"])
def test_every_name_of_a_kind_works(name):
    assert explain(f"{name}.spec.gpu").startswith("KIND:     TrainingWorkload")


def test_policy_fields_have_rules_and_a_default_value():
    text = explain("trainingpolicy.spec.gpu")
    assert "   rules\t<Object>" in text and "   value\t<string>" in text
    rules = explain("tpol.spec.gpu.rules")
    for member in ("canEdit", "max", "min", "options", "required"):
        assert f"   {member}\t<" in rules
    ports = explain("tpol.spec.ports")
    for member in ("itemRules", "items", "rules"):
        assert f"   {member}\t<" in ports


def test_a_mistyped_field_suggests_the_closest_one():
    with pytest.raises(ExplainError, match=r'field "nodetyp" does not exist in trainingworkload.spec; did you mean nodeType\?'):
        explain("trainingworkload.spec.nodetyp")


def test_an_unknown_resource_suggests_the_closest_one():
    with pytest.raises(ExplainError, match=r'unknown resource "trainingworklods"; did you mean trainingworkloads\?'):
        explain("trainingworklods")


def test_recursive_shows_nested_fields():
    text = explain("dw.spec.masterSpec", recursive=True)
    assert "   gpu\t<Object>\n      value\t<string>" in text
