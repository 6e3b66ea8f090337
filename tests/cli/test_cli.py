"""The `berth` command, run as a user runs it: a subprocess of the installed console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from berth.api.registry import KINDS


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(berth_bin: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([berth_bin, *args], capture_output=True, text=True, input=stdin, timeout=60)


def test_crds_prints_one_definition_per_kind(berth_bin):
    result = run(berth_bin, "crds")
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["spec"]["names"]["kind"] for d in documents] == [k.kind for k in KINDS]
    assert all(d["kind"] == "CustomResourceDefinition" for d in documents)
    assert "&id" not in result.stdout  # no YAML anchors: kubectl users read this


def test_crds_for_one_kind_by_short_name(berth_bin):
    result = run(berth_bin, "crds", "--kind", "tw")
    [document] = list(yaml.safe_load_all(result.stdout))
    assert document["metadata"]["name"] == "trainingworkloads.run.ai"
    bad = run(berth_bin, "crds", "--kind", "trainingworklod")
    assert bad.returncode == 1
    assert 'unknown kind "trainingworklod"; did you mean trainingworkload' in bad.stderr


def test_explain_the_seed_field(berth_bin):
    result = run(berth_bin, "explain", "trainingworkload.spec.nodeType")
    assert result.returncode == 0
    assert result.stdout.startswith("KIND:     TrainingWorkload\nVERSION:  run.ai/v2alpha1\n\nRESOURCE: nodeType <Object>\n")
    assert "FIELDS:\n   value\t<string>\n" in result.stdout


def test_explain_a_typo_fails_with_a_suggestion(berth_bin):
    result = run(berth_bin, "explain", "tw.spec.nodetype")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "did you mean nodeType?" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_reports_good_and_bad_files(berth_bin, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: job-1}\n"
                    "spec: {gpu: {value: \"1\"}, image: {value: ubuntu}}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: job-2}\n"
                   "spec: {gpu: {value: [1]}}\n")
    ok = run(berth_bin, "validate", str(good))
    assert ok.returncode == 0 and "TrainingWorkload job-1 is valid" in ok.stdout
    failed = run(berth_bin, "validate", str(good), str(bad))
    assert failed.returncode == 1
    assert f'{bad}: spec.gpu.value: expected a string like "1" or "0.5", got a list' in failed.stderr
    piped = run(berth_bin, "validate", "-", stdin=bad.read_text())
    assert piped.returncode == 1 and "<stdin>: spec.gpu.value" in piped.stderr


def test_validate_takes_a_directory_as_kubectl_apply_f_does(berth_bin):
    """`berth validate examples/knavigator/` checks the directory's YAML and JSON files in name order, as
    `kubectl apply -f` reads a directory (not its subdirectories)."""
    result = run(berth_bin, "validate", str(EXAMPLES / "knavigator"))
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0].rsplit("/", 1)[-1] for line in result.stdout.splitlines()] == [
        "0-project.yaml", "distributedworkload.yaml", "trainingworkload.yaml"]
    missing = run(berth_bin, "validate", str(EXAMPLES / "knavigator" / "no-such-dir"))
    assert missing.returncode == 1 and "no-such-dir: No such file or directory" in missing.stderr


def test_validate_of_a_directory_without_manifests_says_so(berth_bin, tmp_path):
    result = run(berth_bin, "validate", str(tmp_path))
    assert result.returncode == 2 and f"{tmp_path} holds no .yaml, .yml or .json file" in result.stderr


def test_up_refuses_plain_http_off_loopback(berth_bin, tmp_path):
    result = run(berth_bin, "up", "--data-dir", str(tmp_path), "--insecure-http", "--host", "0.0.0.0")
    assert result.returncode == 1
    assert "only on a loopback address" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_command_that_needs_no_policy_models_does_not_build_them():
    """Building the policy kinds' models is the slowest part of importing Berth; `berth list`, `berth logs`
    and the rest start without it (the kind table names each model, imported when first used)."""
    probe = ("import sys, berth.cli.main; from berth.api.registry import KINDS; KINDS[0].description; "
             "print(sorted(m for m in ('berth.api.policies', 'berth.api.crd', 'berth.api.load') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"
