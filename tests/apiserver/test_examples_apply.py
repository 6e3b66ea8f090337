"""The examples apply to a fresh `berth up` the first time, a directory at a time, as a user types it."""

from __future__ import annotations

from tests.conftest import ROOT


def test_each_examples_directory_applies_the_first_time_in_order(fresh_cluster):
    """A project and its first workloads may come in one go: the project's namespace is there for them."""
    c = fresh_cluster

    def apply(directory: str) -> str:
        return c.kubectl("apply", "-f", str(ROOT / "examples" / directory)).stdout

    out = apply("projects")  # departments, node pools and projects: what everything else needs
    assert "project.run.ai/team-a created" in out and "department.run.ai/research created" in out
    # Workloads before policies: the example policies of team-a would refuse some example workloads (they
    # show rules: ports from 30000, jobTypes PyTorchJob and MPIJob only), and a policy never touches
    # workloads already submitted.
    for directory in ("workloads", "quickstart", "scheduling", "knavigator", "policies"):
        assert " created" in apply(directory), directory
