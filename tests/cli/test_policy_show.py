"""`berth policy show KIND -p PROJECT` says which policy applies and where it comes from."""

from __future__ import annotations

import subprocess

from tests.cluster import BIN


def show(cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "berth"), "policy", "show", *args, "--kubeconfig", str(cluster.kubeconfig)],
                          capture_output=True, text=True, timeout=60, env=cluster.env())


def test_project_policy_wins_and_the_global_one_is_named(cluster):
    cluster.project("vision")
    cluster.project("nlp")
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v2alpha1
kind: TrainingPolicy
metadata: {name: global-limits, namespace: runai}
spec:
  gpu: {rules: {max: "5"}, value: "1"}
---
apiVersion: run.ai/v2alpha1
kind: TrainingPolicy
metadata: {name: vision, namespace: runai-vision}
spec:
  gpu: {rules: {max: "8", required: true}, value: "2"}
  ports:
    rules: {canAdd: false}
    itemRules: {container: {min: 30000}}
    items: {admin: {value: {container: 30100}}}
""")
    own = show(cluster, "training", "-p", "vision")
    assert own.returncode == 0, own.stderr
    lines = own.stdout.splitlines()
    assert lines[0] == 'TrainingPolicy "vision" in project vision: the project\'s own policy.'
    assert lines[1] == 'The global TrainingPolicy "global-limits" does not apply to this project.'
    assert lines[2].split() == ["FIELD", "DEFAULT", "RULES"]
    assert lines[3].split(None, 2) == ["gpu", "2", "max: 8; required: true"]  # as YAML says it, not Python
    assert lines[4].endswith("canAdd: false; container min 30000")
    assert lines[4].split(None, 4)[:4] == ["ports", "1", "item:", "admin"]
    inherited = show(cluster, "tw", "-p", "nlp")
    assert inherited.stdout.splitlines()[0] == (
        'TrainingPolicy "global-limits" in namespace runai (global): the global policy (the project has none of its own).')
    none = show(cluster, "inference", "-p", "nlp")
    assert "No InferencePolicy applies to project nlp" in none.stdout
    bad = show(cluster, "trainng", "-p", "nlp")
    assert bad.returncode == 2 and '"trainng" is not a workload or policy kind' in bad.stderr
