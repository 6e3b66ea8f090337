"""Projects as queues end to end: a Project's priority, limits and units through kubectl and `berth up`, and the
time-based fair share configured by the ConfigMap runai-scheduler."""

from __future__ import annotations

import json
import time

import pytest

from tests.scheduler.test_end_to_end import cluster_with, running_pods, status, submit
from tests.controllers.helpers import client, eventually

EIGHT_GPUS = "pools:\n- {name: default, count: 2, gpus: 4}\n"


def apply(c, text: str) -> None:
    c.kubectl("apply", "-f", "-", input=text)


def namespace_ready(c, project: str) -> None:
    with client(c) as http:
        eventually(lambda: http.get(f"/api/v1/namespaces/runai-{project}").status_code == 200)


def test_a_project_with_priority_limit_and_units_is_accepted_shown_and_honoured(tmp_path):
    for c in cluster_with(tmp_path, EIGHT_GPUS):
        apply(c, """
apiVersion: run.ai/v1
kind: Project
metadata: {name: hi}
spec:
  priority: 200
  reclaimMinRuntimeSecs: 30
  nodePoolsResources:
  - nodePool: default
    gpu: {deserved: 2, limit: 5}   # limit: Run:ai's REST name for maxAllowed
    cpu: {deserved: "4", maxAllowed: -1}
    memory: {deserved: 40960}
---
apiVersion: run.ai/v1
kind: Project
metadata: {name: lo}
spec: {deservedGpus: 2}
""")
        shown = json.loads(c.kubectl("get", "project", "hi", "-o", "json").stdout)["spec"]
        assert shown["priority"] == 200 and shown["reclaimMinRuntimeSecs"] == 30
        assert shown["nodePoolsResources"][0]["cpu"] == {"deserved": "4", "maxAllowed": -1}
        wide = c.kubectl("get", "project", "hi", "-o", "wide").stdout.splitlines()
        assert wide[0].split()[-1] == "PRIORITY" and wide[1].split()[-1] == "200"
        explained = c.kubectl("explain", "project.spec.priority").stdout
        assert "over-quota resources go to the highest priority first" in " ".join(explained.split())
        refused = c.kubectl("apply", "-f", "-", check=False, input=(
            "apiVersion: run.ai/v1\nkind: Project\nmetadata: {name: bad}\nspec:\n  nodePoolsResources:\n"
            "  - {nodePool: default, cpu: {deserved: 4}}\n"))
        assert refused.returncode != 0 and "a number here is in millicores" in refused.stderr
        namespace_ready(c, "hi")
        namespace_ready(c, "lo")
        for i in range(8):
            submit(c, "TrainingWorkload", f"h{i}", "hi", "1")
            submit(c, "TrainingWorkload", f"l{i}", "lo", "1")
        # Priority 200 takes the over-quota GPUs first, up to its maxAllowed of 5; lo gets the rest (3).
        eventually(lambda: (len(running_pods(c, "hi")), len(running_pods(c, "lo"))) == (5, 3), timeout=60)
        waiting = [status(c, "trainingworkloads", "hi", f"h{i}") for i in range(8)]
        messages = [s.get("message") or "" for s in waiting if s.get("phase") == "Pending"]
        assert messages and all("project hi may use at most 5 GPUs (maxAllowed)" in m for m in messages)


@pytest.mark.slow  # 16 s: waits out a fair-share time window; run with -m slow
def test_the_time_based_fair_share_is_configured_by_a_configmap_and_gives_way_to_the_unused_project(tmp_path):
    for c in cluster_with(tmp_path, "pools:\n- {name: default, count: 1, gpus: 4}\n"):
        apply(c, """
apiVersion: v1
kind: ConfigMap
metadata: {name: runai-scheduler, namespace: runai}
data: {timeBasedFairShare: "true", windowSize: 10m, halfLife: 1m}
""")
        # A misspelt key is named, with the fix, in a Warning event on the ConfigMap; the rest applies.
        def warned() -> bool:
            events = json.loads(c.kubectl("get", "events", "-n", "runai", "-o", "json").stdout)["items"]
            return any(e["reason"] == "InvalidSetting" and "did you mean halfLifePeriod?" in e["message"]
                       for e in events)
        eventually(warned, timeout=20)
        apply(c, "apiVersion: run.ai/v1\nkind: Project\nmetadata: {name: a}\nspec: {deservedGpus: 0}\n---\n"
                 "apiVersion: run.ai/v1\nkind: Project\nmetadata: {name: b}\nspec: {deservedGpus: 0}\n")
        namespace_ready(c, "a")
        namespace_ready(c, "b")
        for i in range(4):
            submit(c, "TrainingWorkload", f"a{i}", "a", "1")
        eventually(lambda: len(running_pods(c, "a")) == 4, timeout=30)
        time.sleep(8)  # a has the whole cluster for a while; b has used nothing
        for i in range(4):
            submit(c, "TrainingWorkload", f"b{i}", "b", "1")
        # Without the usage the two would split 2 and 2; b, which used nothing, takes more.
        eventually(lambda: len(running_pods(c, "b")) >= 3, timeout=40)

        def said() -> bool:
            pending = [status(c, "trainingworkloads", "a", f"a{i}") for i in range(4)]
            return any("time-based fair share" in (s.get("message") or "") for s in pending)
        eventually(said, timeout=20)
