"""The pure parts of the everyday commands: how a workload's status reads as a row, why it waits, durations,
and tables that fit 80 columns on a terminal and stay plain in a pipe."""

from __future__ import annotations

import datetime

import click
import pytest

from berth.cli import output, view
from berth.cli.logs import parse_duration as parse_since


def training(phase: str, **status) -> dict:
    return {"kind": "TrainingWorkload", "metadata": {"name": "t", "namespace": "runai-a"},
            "spec": {"image": {"value": "ubuntu"}}, "status": {"phase": phase, **status}}


def test_gpus_and_pods_columns_read_the_status():
    running = training("Running", allocatedGpus=0.5, requestedGpus=0.5, runningPods=1, pendingPods=0, nodes=["n1"])
    assert view.gpus_column(running) == "0.50 (0.50)" and view.pods_column(running) == "1 (0)"
    assert view.node_column(running) == "n1"
    done = training("Completed", allocatedGpus=0, requestedGpus=2, nodes=["n1", "n2"])
    assert view.gpus_column(done) == "- (2)" and view.node_column(done) == "<multiple>"
    assert view.gpus_column(training("Running", allocatedGpus=0.5, gpuRequest="0.5")) == "0.50 (0.50)"
    memory = training("Pending", gpuRequest="2 x 4G")
    assert view.gpus_column(memory) == "0 (2 x 4G)"


def test_types_follow_runai_list():
    interactive = {"kind": "InteractiveWorkload", "spec": {"preemptible": {"value": True}}}
    assert view.v1_type(interactive) == "Interactive-Preemptible" and view.v2_type(interactive) == "Workspace"
    mpi = {"kind": "DistributedWorkload", "spec": {"jobType": "MPIJob"}}
    assert view.v1_type(mpi) == "MPI" and view.preemptible(mpi)
    assert view.v1_type({"kind": "InferenceWorkload"}) == "Inference"


def test_waiting_reasons_say_the_workload_message_once_and_each_other_pod_reason():
    pending = training("Pending", message="needs a node with 2 free GPUs")
    told = {"metadata": {"name": "t-0-0"}, "spec": {}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "needs a node with 2 free GPUs"}]}}
    other = {"metadata": {"name": "t-1-0"}, "spec": {}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "message": "project a is over quota"}]}}
    placed = {"metadata": {"name": "t-2-0"}, "spec": {"nodeName": "n"}, "status": {"phase": "Running"}}
    assert view.waiting_reasons(pending, [told, other, placed]) == [
        "needs a node with 2 free GPUs", "pod t-1-0: project a is over quota"]
    assert view.waiting_reasons(training("Running", message="1 pod running"), [placed]) == []


def test_the_lead_pod_is_the_master_else_the_newest():
    pods = [{"metadata": {"name": n, "labels": {"run.ai/role": r}}} for n, r in
            (("w-worker-0", "worker"), ("w-master-0", "master"), ("w-worker-1", "worker"))]
    assert view.lead_pod(pods)["metadata"]["name"] == "w-master-0"
    assert view.lead_pod([{"metadata": {"name": "t-0-0"}}, {"metadata": {"name": "t-0-1"}}])["metadata"]["name"] == "t-0-1"
    assert view.lead_pod([]) is None


def test_since_and_ages():
    assert parse_since("90") == 90 and parse_since("5m") == 300 and parse_since("1h30m") == 5400
    for bad in ("5 minutes", "m5", "0s", "1d"):
        with pytest.raises(click.BadParameter):
            parse_since(bad)
    now = datetime.datetime(2026, 1, 2, 12, 0, 0, tzinfo=datetime.UTC)
    assert output.age("2026-01-02T11:59:15Z", now) == "45s"
    assert output.age("2026-01-02T11:00:00Z", now) == "60m" and output.age("2025-12-30T12:00:00Z", now) == "3d"
    assert output.age(None) == "-" and output.number(2.0) == "2" and output.number(None) == "-"


def test_plain_tables_are_kubectl_like():
    assert output.plain_table(("NAME", "STATUS"), [["a-long-name", "Running"], ["b", "Pending"]]) == (
        "NAME          STATUS\na-long-name   Running\nb             Pending\n")


def test_a_terminal_table_fits_80_columns(monkeypatch, capsys):
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    rows = [view.v1_row(training("Pending", requestedGpus=2, pendingPods=1, runningPods=0), wide=False)]
    output.table(view.V1_HEADERS, rows, title="Showing workloads for project a")
    shown = capsys.readouterr().out
    assert "Pending" in shown and "Showing workloads for project a" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80


def test_a_wide_terminal_table_keeps_its_natural_width(monkeypatch, capsys):
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    rows = [view.v1_row(training("Completed", requestedGpus=2, nodes=["a-node"]), wide=True)]
    output.table(view.V1_WIDE, rows, wide=True)
    shown = capsys.readouterr().out
    assert "GPUs Allocated (Requested)" in shown and "Completed" in shown and "…" not in shown


def test_an_unstarted_newest_pod_falls_back_to_the_attempt_that_ran():
    from berth.cli.logs import _earlier_attempt

    ran = {"metadata": {"name": "t-0-0"}, "status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 1}}}]}}
    waiting = {"metadata": {"name": "t-0-1"}, "status": {"phase": "Pending"}}
    assert _earlier_attempt([ran, waiting], waiting) is ran
    assert _earlier_attempt([waiting], waiting) is None
    master = {"metadata": {"name": "d-master-0", "labels": {"run.ai/role": "master"}}, "status": {"phase": "Pending"}}
    worker = {"metadata": {"name": "d-worker-0", "labels": {"run.ai/role": "worker"}},
              "status": {"containerStatuses": [{"state": {"running": {}}}]}}
    assert _earlier_attempt([master, worker], master) is None  # another role's log is not the master's


def test_top_splits_projects_by_node_pool_only_when_there_are_several():
    from berth.cli.top import Snapshot, split_rows

    projects = [{"metadata": {"name": "a"}, "status": {"nodePools": [
        {"nodePool": "default", "allocated": {"gpu": 1}, "requested": {"gpu": 3}},
        {"nodePool": "a100", "allocated": {"gpu": 0.5}, "requested": {"gpu": 0.5}}]}}]
    assert split_rows(projects) == [["a", "default", "1", "3"], ["a", "a100", "0.50", "0.50"]]
    one = Snapshot([], [["default"]], 1, 2, split_rows(projects))
    assert [title for title, _, _ in one.tables()] == ["GPUs per project", "GPUs per node pool"]
    two = Snapshot([], [["default"], ["a100"]], 1, 2, split_rows(projects))
    assert two.tables()[-1][0] == "GPUs per project and node pool"
