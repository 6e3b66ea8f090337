"""This directory's `cluster` and `fresh_cluster`: those of tests/controllers (`berth up` without the
scheduler and the local node, so tests drive pods themselves)."""

from tests.controllers.conftest import cluster, fresh_cluster  # noqa: F401 - fixtures, found by their names
