"""The one table of what a submitted workload may change (berth.api.edits): complete, and shown in the docs."""

from __future__ import annotations

from berth.api import edits
from berth.api.workloads import WORKLOAD_SPECS
from tests.conftest import ROOT


def test_every_spec_field_of_every_kind_has_a_decision():
    fields = set().union(*(spec.model_fields for spec in WORKLOAD_SPECS.values()))
    assert fields == set(edits.EDITS), "decide when each new field may change, in berth.api.edits"


def test_aliases_find_their_field():
    assert edits.edit_of("DistributedWorkload", "replicas")[0] == "workers"
    assert edits.edit_of("InferenceWorkload", "class")[0] == "class_"
    assert edits.edit_of("InferenceWorkload", "active") is None


def test_docs_api_shows_the_table_as_admission_reads_it():
    assert edits.markdown() in (ROOT / "docs" / "api.md").read_text(), "paste berth.api.edits.markdown() into docs/api.md"
