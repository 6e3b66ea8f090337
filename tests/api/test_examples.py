"""Every file in examples/ is a valid resource that round-trips unchanged and fits its CRD's schema."""

from __future__ import annotations

import jsonschema
import pytest

from berth.api.crd import crd
from berth.api.load import load_file, parse_documents
from tests.api.structural import to_json_schema
from tests.conftest import EXAMPLES, ROOT


def test_there_are_examples_for_every_kind():
    from berth.api.registry import KINDS

    seen = {item.kind.kind for path in EXAMPLES for item in load_file(path)}
    assert seen == {k.kind for k in KINDS}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_loads_and_round_trips_unchanged(path):
    documents = parse_documents(path.read_text())
    loaded = load_file(path)
    assert [item.obj.to_dict() for item in loaded] == documents


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_validates_against_its_crd_schema(path):
    for item in load_file(path):
        schema = crd(item.kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        jsonschema.validate(item.document, to_json_schema(schema))


def test_the_crd_schema_check_rejects_an_unknown_field():
    from berth.api.registry import lookup

    schema = to_json_schema(crd(lookup("tw"))["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    document = {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": "x"},
                "spec": {"gpu": {"value": "1"}, "nodetype": {"value": "a100"}}}
    with pytest.raises(jsonschema.ValidationError, match="nodetype"):
        jsonschema.validate(document, schema)
