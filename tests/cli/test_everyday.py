"""The everyday commands (list, describe, logs, delete, suspend, resume, top, config, version, completion)
run as a user runs them, against one `berth up` with 2 simulated GPUs on the local node.

The scenario: in project `team` (2 GPUs deserved), `runner` holds 1 GPU and runs; `big` asks for 2 GPUs
while 1 is free, so it waits and the scheduler says why; `hello` printed two lines and completed.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cli.in_process import berth_in_process
from tests.cluster import Cluster, running
from tests.controllers.helpers import eventually

NS = "runai-team"
PY = sys.executable


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    for c in running(tmp_path_factory.mktemp("everyday"), "--gpus", "2"):
        c.kubectl("apply", "-f", "-", input=(
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}, labels: {{runai/queue: team}}}}\n---\n"
            "apiVersion: run.ai/v1\nkind: Project\nmetadata: {name: team}\nspec: {deservedGpus: 2}\n"))
        submit(c, "runner", gpu="1", command="sleep 600")
        eventually(lambda: phase(c, "runner") == "Running", timeout=30)
        submit(c, "big", gpu="2", command="sleep 600")
        submit(c, "hello", command=f"{PY} -c 'print(\"hello\"); print(\"bye\")'")
        eventually(lambda: phase(c, "big") == "Pending" and phase(c, "hello") == "Completed", timeout=30)
        # the project's usage is the usage controller's to write, a moment after the workloads' phases
        eventually(lambda: project_gpus(c, "requested") == 3 and project_gpus(c, "allocated") == 1, timeout=30)
        yield c


def project_gpus(c: Cluster, field: str) -> float | None:
    status = json.loads(c.kubectl("get", "project", "team", "-o", "json").stdout).get("status") or {}
    return (status.get(field) or {}).get("gpu")


def submit(c: Cluster, name: str, *, command: str, gpu: str | None = None, kind: str = "TrainingWorkload") -> None:
    gpus = f"\n  gpu: {{value: \"{gpu}\"}}" if gpu else ""
    c.kubectl("apply", "-f", "-", input=f"""apiVersion: run.ai/v2alpha1
kind: {kind}
metadata: {{name: {name}, namespace: {NS}}}
spec:
  image: {{value: ubuntu}}
  command: {{value: {json.dumps(command)}}}{gpus}
""")


def workload(c: Cluster, name: str, kind: str = "tw") -> dict:
    return json.loads(c.kubectl("get", kind, name, "-n", NS, "-o", "json").stdout)


def phase(c: Cluster, name: str) -> str | None:
    return (workload(c, name).get("status") or {}).get("phase")


@pytest.fixture
def berth(team: Cluster, tmp_path: Path):
    """`berth ARGS...` through click's runner (the whole command, in this process: a second each saved on
    starting Python), with the cluster's environment and a CLI settings file of its own (no default project
    unless a test sets one). What needs a real process (signals, pipes, a terminal, the shell completion
    protocol) runs the console script instead."""
    env = {"KUBECONFIG": str(team.kubeconfig), "HOME": str(team.home), "BERTH_CLI_CONFIG": str(tmp_path / "cli.yaml")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return berth_in_process(env, *args)

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def row(text: str, name: str) -> list[str]:
    """The cells of the row that starts with `name` in a plain table (cells are three spaces apart)."""
    line = next(line for line in text.splitlines() if line.split(" ", 1)[0] == name)
    return [cell.strip() for cell in line.split("   ") if cell.strip()]


# -- list ----------------------------------------------------------------------------------------------------

def test_list_shows_the_running_and_the_pending_workload(berth):
    out = ok(berth("list", "-p", "team"))
    assert out.startswith("Showing workloads for project team\n")
    assert "GPUs Allocated (Requested)" in out and "PODs Running (Pending)" in out
    assert row(out, "runner")[1:2] + row(out, "runner")[3:] == ["Running", "local", "Train", "1 (1)", "1 (0)"]
    assert row(out, "big")[1:2] + row(out, "big")[3:] == ["Pending", "-", "Train", "0 (2)", "0 (1)"]
    assert row(out, "hello")[1] == "Completed" and row(out, "hello")[5] == "- (0)"  # finished: nothing allocated
    assert "IMAGE" not in out and "SERVICE URL(S)" not in out  # the wide columns come with -o wide only
    assert "runner" in ok(berth("list", "jobs", "-p", "team"))  # runai list jobs' word


def test_list_wide_json_all_projects_and_state(berth):
    wide = ok(berth("list", "-p", "team", "-o", "wide"))
    assert "IMAGE" in wide and "SERVICE URL(S)" in wide and row(wide, "big")[4:7] == ["ubuntu", "Train", "team"]
    listed = json.loads(ok(berth("list", "-p", "team", "-o", "json")))
    assert listed["kind"] == "List" and {w["metadata"]["name"] for w in listed["items"]} == {"runner", "big", "hello"}
    everywhere = ok(berth("list", "-A"))
    assert everywhere.startswith("Showing workloads for all projects") and row(everywhere, "big")[1] == "team"
    pending = ok(berth("list", "-p", "team", "--state", "pending"))
    assert "big" in pending and "runner" not in pending


def test_list_in_the_v2_form_has_its_columns(berth):
    out = ok(berth("training", "list", "-p", "team"))
    assert out.splitlines()[0].split() == ["WORKLOAD", "TYPE", "STATUS", "PROJECT", "PREEMPTIBLE",
                                           "RUNNING/REQUESTED", "PODS", "GPU", "ALLOCATION"]
    assert row(out, "runner") == ["runner", "Training", "Running", "team", "Yes", "1/1", "1/1"]
    assert row(out, "big") == ["big", "Training", "Pending", "team", "Yes", "0/1", "0/2"]
    assert "No workspaces in project team." in ok(berth("workspace", "list", "-p", "team"))
    as_json = json.loads(ok(berth("training", "list", "-p", "team", "--json")))
    assert {"runner", "big", "hello"} <= {w["metadata"]["name"] for w in as_json["items"]}
    twice = berth("training", "list", "-p", "team", "--json", "-o", "yaml")
    assert twice.returncode == 2 and "-o and --json choose the output twice" in twice.stderr


def test_list_projects_nodes_nodepools_policies_and_top(team, berth):
    projects = ok(berth("list", "projects"))
    # deserved 2, allocated 1 (runner), requested 3 (runner and big), nothing over quota, no limit
    assert row(projects, "team") == ["team", "2", "1", "3", "0", "unlimited"]
    nodes = ok(berth("list", "nodes"))
    assert row(nodes, "local") == ["local", "Ready", "default", "2", "1", "1"]
    assert row(ok(berth("list", "nodepools")), "default")[:6] == ["default", "Ready", "1", "2", "1", "-"]
    assert ok(berth("list", "policies", "-p", "team")) == "No policies for project team or global.\n"
    for namespace in ("runai", NS):  # a rule that changes nothing here: at most 5 GPUs
        team.kubectl("apply", "-f", "-", input=f"apiVersion: run.ai/v2alpha1\nkind: TrainingPolicy\n"
                     f"metadata: {{name: cap, namespace: {namespace}}}\nspec: {{gpu: {{rules: {{max: '5'}}}}}}\n")
    policies = ok(berth("list", "policies", "-p", "team")).splitlines()
    assert policies[0].split() == ["KIND", "NAME", "SCOPE", "AGE"]
    assert [line.split()[:4] for line in policies[1:]] == [["TrainingPolicy", "cap", "global", policies[1].split()[3]],
                                                          ["TrainingPolicy", "cap", "project", "team"]]
    top = ok(berth("top", "--once"))
    assert "GPUs allocated: 1 of 2" in top and row(top, "team")[:3] == ["team", "2", "1"]
    assert row(top, "default")[:5] == ["default", "1", "2", "1", "1"]


def test_top_refreshes_live_on_a_terminal_until_ctrl_c(team, berth_bin):
    """On a terminal `berth top` redraws in place (rich's Live); Ctrl-C ends it quietly."""
    leader, follower = pty.openpty()
    env = {**team.env(), "COLUMNS": "100", "LINES": "40", "TERM": "xterm"}
    top = subprocess.Popen([berth_bin, "top", "--interval", "0.5"], stdin=follower, stdout=follower,
                           stderr=subprocess.PIPE, env=env)
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while seen.count(b"GPUs per project") < 2 and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if ready:
                seen += os.read(leader, 65536)
    finally:
        top.send_signal(signal.SIGINT)
        _, err = top.communicate(timeout=30)
        os.close(leader)
    assert seen.count(b"GPUs per project") >= 2 and b"GPUs allocated: 1 of 2" in seen  # drawn, then redrawn
    assert top.returncode == 130 and b"Traceback" not in err


# -- describe ------------------------------------------------------------------------------------------------

def test_describe_says_why_the_pending_workload_waits_in_both_forms(berth):
    out = ok(berth("describe", "big", "-p", "team"))
    assert "NAME:                    big\n" in out and "STATUS:                  Pending (NotEnoughGPUs)\n" in out
    assert "TOTAL REQUESTED GPUS:    2\n" in out and "PENDING PODS:            1\n" in out
    waiting = out.split("Waiting:\n", 1)[1].split("\n\n", 1)[0]
    assert "needs a node with 2 free GPUs in pool default; the best node has 1" in waiting
    pods = out.split("Pods:\n", 1)[1]
    assert row(pods, "big-0-0")[1:3] == ["PENDING", "TRAIN"]
    events = out.split("Events:\n", 1)[1]
    assert "[FailedScheduling] pod/big-0-0: needs a node with 2 free GPUs" in events
    assert "runai-scheduler" in events
    assert ok(berth("describe", "workload", "big", "-p", "team")).split("Pods:")[0] == out.split("Pods:")[0]
    newest = ok(berth("describe", "big", "-p", "team", "--event-limit", "1")).split("Events:\n", 1)[1].splitlines()
    assert newest[0].endswith("older not shown (--event-limit -1 shows all)") and len(newest) == 3  # note, head, 1
    v2 = ok(berth("training", "describe", "big", "-p", "team"))
    assert "Waiting:\n  needs a node with 2 free GPUs" in v2


def test_describe_a_running_workload_and_its_object(berth):
    out = ok(berth("training", "standard", "describe", "runner", "-p", "team"))
    assert "STATUS:                  Running\n" in out and "ALLOCATED GPUS:          1\n" in out
    assert "Waiting:" not in out and row(out.split("Pods:\n", 1)[1], "runner-0-0")[1:] == [
        "RUNNING", "TRAIN", row(out.split("Pods:\n", 1)[1], "runner-0-0")[3], "local"]
    assert "COMMAND LINE:            sleep 600\n" in out
    as_yaml = yaml.safe_load(ok(berth("describe", "runner", "-p", "team", "-o", "yaml")))
    assert as_yaml["kind"] == "TrainingWorkload" and as_yaml["status"]["phase"] == "Running"


def test_a_noun_finds_only_its_own_kind_and_an_unknown_name_lists_what_exists(berth):
    wrong = berth("workspace", "describe", "runner", "-p", "team")
    assert wrong.returncode == 1 and 'no InteractiveWorkload "runner" in project team' in wrong.stderr
    missing = berth("describe", "runer", "-p", "team")
    assert missing.returncode == 1
    assert 'no workload "runer" in project team (runai-team); it has: big, hello, runner' in missing.stderr
    assert "Traceback" not in missing.stderr


# -- logs ----------------------------------------------------------------------------------------------------

def test_logs_of_a_finished_training(berth):
    assert ok(berth("logs", "hello", "-p", "team")) == "hello\nbye\n"
    assert ok(berth("training", "logs", "hello", "-p", "team", "--tail", "1")) == "bye\n"
    stamped = ok(berth("logs", "hello", "-p", "team", "--timestamps")).splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["hello", "bye"] and stamped[0][:2] == "20"
    assert ok(berth("logs", "hello", "-p", "team", "-f")) == "hello\nbye\n"  # ends with the pod
    assert ok(berth("logs", "hello", "-p", "team", "--since-time", "2020-01-01T00:00:00Z")) == "hello\nbye\n"
    assert ok(berth("logs", "hello", "-p", "team", "--since-time", "2100-01-01T00:00:00Z")) == ""
    bad_time = berth("logs", "hello", "-p", "team", "--since-time", "yesterday")
    assert bad_time.returncode == 1 and "sinceTime" in bad_time.stderr and "RFC 3339" in bad_time.stderr


def test_logs_follow_a_running_training_until_it_ends(team, berth):
    submit(team, "counter", command=f"{PY} -u -c 'import time\nfor i in range(3): print(i); time.sleep(0.5)'")
    out = berth("logs", "counter", "-p", "team", "-f")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "0\n1\n2\n"
    team.kubectl("delete", "tw", "counter", "-n", NS, "--wait=false")


def test_logs_of_a_pending_workload_say_it_has_not_started(berth):
    out = berth("logs", "big", "-p", "team")
    assert out.returncode == 1 and out.stdout == ""
    assert 'workload "big" has not started yet (phase Pending)' in out.stderr
    assert "needs a node with 2 free GPUs" in out.stderr and "Traceback" not in out.stderr
    waited = berth("logs", "big", "-p", "team", "--wait-timeout", "2s")
    assert waited.returncode == 1 and "waiting for workload \"big\" to start" in waited.stderr
    assert 'error: workload "big" has not started yet (phase Pending): no logs to show after waiting 2s ' \
        "(--wait-timeout)" in waited.stderr
    bad = berth("logs", "hello", "-p", "team", "--since", "5 minutes")
    assert bad.returncode == 2 and "--since" in bad.stderr and "like 30s, 5m" in bad.stderr


def test_logs_follow_of_a_pending_workload_waits_for_it_and_ctrl_c_ends_quietly(team, berth_bin, tmp_path):
    env = {**team.env(), "BERTH_CLI_CONFIG": str(tmp_path / "cli.yaml")}
    follower = subprocess.Popen([berth_bin, "logs", "big", "-p", "team", "-f"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = follower.stderr.readline()  # said once, then it waits
        assert line == 'waiting for workload "big" to start (phase Pending) ...\n'
        assert follower.poll() is None
    finally:
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130 and out == "" and "Traceback" not in err


def test_a_distributed_trainings_logs_are_its_masters_and_its_noun_is_its_framework(team, berth):
    team.kubectl("apply", "-f", "-", input=f"""apiVersion: run.ai/v2alpha1
kind: DistributedWorkload
metadata: {{name: dist, namespace: {NS}}}
spec:
  jobType: PyTorchJob
  image: {{value: ubuntu}}
  workers: {{value: 1}}
  command: {{value: "sh -c 'echo I am $HOSTNAME'"}}
""")
    eventually(lambda: (workload(team, "dist", "dw").get("status") or {}).get("phase") == "Completed", timeout=45)
    assert ok(berth("pytorch", "logs", "dist", "-p", "team")) == "I am dist-master-0\n"
    assert ok(berth("logs", "dist", "-p", "team", "--pod", "dist-worker-0")) == "I am dist-worker-0\n"
    assert row(ok(berth("training", "list", "-p", "team")), "dist")[:3] == ["dist", "PyTorch", "Completed"]
    assert "dist" not in ok(berth("training", "standard", "list", "-p", "team"))
    other = berth("mpi", "describe", "dist", "-p", "team")
    assert other.returncode == 1 and '"dist" is a PyTorch training, not MPI; use `berth pytorch ...`' in other.stderr
    pods = ok(berth("training", "pytorch", "describe", "dist", "-p", "team")).split("Pods:\n", 1)[1]
    assert row(pods, "dist-master-0")[1:3] == ["SUCCEEDED", "MASTER"]
    assert row(pods, "dist-worker-0")[1:3] == ["SUCCEEDED", "WORKER"]


def test_logs_into_a_pipe_closed_early_end_quietly(team, berth_bin, tmp_path):
    submit(team, "chatty", command=f"{PY} -c 'for i in range(200000): print(i)'")
    eventually(lambda: phase(team, "chatty") == "Completed", timeout=30)
    env = {**team.env(), "BERTH_CLI_CONFIG": str(tmp_path / "cli.yaml")}
    reader = subprocess.Popen([berth_bin, "logs", "chatty", "-p", "team"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
    assert reader.stdout.readline() == b"0\n"
    reader.stdout.close()  # as `| head -1` does
    assert reader.wait(timeout=30) == 141 and reader.stderr.read() == b""  # as kubectl, killed by SIGPIPE
    team.kubectl("delete", "tw", "chatty", "-n", NS, "--wait=false")


def test_an_error_from_the_server_is_one_line_without_traceback(berth):
    out = berth("logs", "hello", "-p", "team", "-c", "sidecar")
    assert out.returncode == 1
    assert out.stderr == "error: container sidecar is not valid for pod hello-0-0\n"
    verbose = berth("--verbose", "logs", "hello", "-p", "team", "-c", "sidecar")
    assert "Traceback" in verbose.stderr and "container sidecar is not valid" in verbose.stderr


def test_an_unreachable_server_says_to_run_berth_up(team, berth, tmp_path):
    elsewhere = tmp_path / "kubeconfig"
    port = team.url.rsplit(":", 1)[1]
    elsewhere.write_text(team.kubeconfig.read_text().replace(f":{port}", ":1"))
    out = berth("list", "-p", "team", "--kubeconfig", str(elsewhere))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "is `berth up` running? pass --kubeconfig" in out.stderr


# -- delete, suspend, resume ---------------------------------------------------------------------------------

def test_suspend_then_resume(team, berth):
    submit(team, "pausable", command="sleep 600")
    eventually(lambda: phase(team, "pausable") == "Running", timeout=30)
    said = ok(berth("suspend", "pausable", "-p", "team"))
    assert 'suspended TrainingWorkload "pausable"' in said
    assert workload(team, "pausable")["spec"]["active"] == {"value": False}
    eventually(lambda: phase(team, "pausable") == "Stopped", timeout=30)
    assert "is already suspended" in ok(berth("training", "suspend", "pausable", "-p", "team"))
    assert row(ok(berth("list", "-p", "team")), "pausable")[1] == "Stopped"
    assert 'resumed TrainingWorkload "pausable"' in ok(berth("training", "resume", "pausable", "-p", "team"))
    eventually(lambda: phase(team, "pausable") == "Running", timeout=30)
    assert workload(team, "pausable")["spec"]["active"] == {"value": True}
    team.kubectl("delete", "tw", "pausable", "-n", NS, "--wait=false")


def test_delete_by_name_in_both_forms(team, berth):
    submit(team, "doomed", command="sleep 600")
    submit(team, "doomed-too", command="sleep 600")
    assert ok(berth("delete", "doomed", "-p", "team")) == 'deleted TrainingWorkload "doomed" in project team\n'
    assert ok(berth("training", "delete", "doomed-too", "-p", "team")).startswith("deleted TrainingWorkload")
    gone = lambda name: team.kubectl("get", "tw", name, "-n", NS, check=False).returncode != 0  # noqa: E731
    eventually(lambda: gone("doomed") and gone("doomed-too"), timeout=30)
    missing = berth("delete", "doomed", "-p", "team")
    assert missing.returncode == 1 and 'no workload "doomed"' in missing.stderr and "it has: big" in missing.stderr
    assert berth("inference", "suspend", "--help").returncode == 2  # inference has no suspend
    assert ok(berth("workspace", "delete", "--all", "-p", "team")) == "No workspaces to delete in project team.\n"
    submit(team, "notebook", command="sleep 600", kind="InteractiveWorkload")
    assert ok(berth("workspace", "delete", "--all", "-p", "team")) == \
        'deleted InteractiveWorkload "notebook" in project team\n'  # the trainings stay
    partly = berth("delete", "big", "doomed", "-p", "team")  # all or nothing: big stays
    assert partly.returncode == 1 and partly.stderr.endswith("Nothing was deleted.\n"), partly.stderr
    assert "big" in ok(berth("list", "-p", "team"))
    both = berth("delete", "big", "--all", "-p", "team")
    assert both.returncode == 2 and "give NAMEs or --all, not both" in both.stderr


# -- config, version, completion, suggestions ----------------------------------------------------------------

def test_config_project_then_a_command_without_p(berth):
    assert "no default project" in ok(berth("config", "project"))
    nowhere = berth("list")
    assert nowhere.returncode == 1 and "pass -p PROJECT, or set a default with `berth config project NAME`" \
        in nowhere.stderr
    wrong = berth("config", "project", "tema")
    assert wrong.returncode == 1 and 'no project "tema"' in wrong.stderr and "it has: team" in wrong.stderr
    assert ok(berth("config", "project", "team")).startswith("default project: team")
    assert ok(berth("config", "project")) == "team\n"
    assert ok(berth("list")).startswith("Showing workloads for project team")
    assert "big" in ok(berth("training", "describe", "big"))
    assert "team (default)" in ok(berth("list", "projects"))


def test_a_mistyped_command_or_flag_suggests_the_closest(berth):
    top = berth("lst")
    assert top.returncode == 2 and "No such command 'lst'. Did you mean 'list'?" in top.stderr
    noun = berth("training", "descibe", "big")
    assert noun.returncode == 2 and "Did you mean 'describe'?" in noun.stderr
    flag = berth("logs", "hello", "--tial", "3")
    assert flag.returncode == 2 and "Did you mean '--tail'?" in flag.stderr
    cut_short = berth("list", "--al")
    assert cut_short.returncode == 2 and "Did you mean '--all-projects'?" in cut_short.stderr


def test_version_names_client_and_server(berth):
    out = ok(berth("version"))
    assert out.startswith("Client Version: berth ") and "Server Version: v1." in out and "+berth" in out


def test_completion_scripts_and_workload_names(team, berth):
    for shell in ("bash", "zsh", "fish"):
        assert "_BERTH_COMPLETE" in ok(berth("completion", shell))
    env = {**team.env(), "_BERTH_COMPLETE": "bash_complete", "COMP_WORDS": "berth logs -p team h", "COMP_CWORD": "4"}
    result = subprocess.run([str(Path(sys.executable).parent / "berth")], capture_output=True, text=True, env=env,
                            timeout=30)
    assert "plain,hello" in result.stdout.splitlines()
    env.update(COMP_WORDS="berth list -p te", COMP_CWORD="3")
    result = subprocess.run([str(Path(sys.executable).parent / "berth")], capture_output=True, text=True, env=env,
                            timeout=30)
    assert result.stdout.splitlines() == ["plain,team"]


def test_without_any_cluster_the_error_says_to_run_berth_up(berth_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(HOME=str(tmp_path), BERTH_DATA_DIR=str(tmp_path / "none"), BERTH_CLI_CONFIG=str(tmp_path / "c.yaml"))
    out = subprocess.run([berth_bin, "list"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "no usable kubeconfig was found; run `berth up` first" in out.stderr
