"""The web UI in a real browser: Debian's chromium, headless, driven by Playwright (never a downloaded
browser), against `berth up` with simulated GPU nodes. A researcher logs in with their token, sees the
workloads of their project appear and go from Pending to Running without a reload, and never sees another
project's. Every page is saved as a screenshot (BERTH_UI_SHOTS, else the test's temporary directory)."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, running
from tests.rest.conftest import add_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency: make test installs it")
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (make test installs it where apt-get may: "
                "apt-get install chromium)", allow_module_level=True)

#: The phases of a workload not yet running, in order: the list shows the first it is told of (a summary
#: without a status is Pending), then each change.
WAITING = ("Creating", "Pending", "Initializing")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("ui")
    (tmp / "nodes.yaml").write_text("pools:\n- {name: default, count: 2, gpus: 8}\n")
    yield from running(tmp, "--nodes", str(tmp / "nodes.yaml"), "--no-local-node")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BERTH_UI_SHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def training(name: str, namespace: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: run.ai/v2alpha1
        kind: TrainingWorkload
        metadata: {{name: {name}, namespace: {namespace}}}
        spec:
          image: {{value: ubuntu}}
          command: {{value: sleep 600}}
          gpu: {{value: "1"}}
        """)


@pytest.fixture(scope="module")
def alice(cluster: Cluster) -> str:
    """A researcher of team-a (team-b exists too); her token."""
    cluster.project("team-a")
    cluster.project("team-b")
    cluster.kubectl("patch", "project", "team-a", "--type=merge", "-p", '{"spec": {"deservedGpus": 2}}')
    return add_user(cluster, "alice", "researcher", "team-a")


def watched(page: object, errors: list[str]) -> object:
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def record_phases(page: object, name: str) -> None:
    """From now on, every phase the list shows for workload `name`, in order, in `window.phases[name]`."""
    page.evaluate("""name => {
        window.phases = window.phases || {};
        const seen = window.phases[name] = [];
        new MutationObserver(() => {
            const cell = document.querySelector(`#workloads tbody tr[data-name="${name}"] td:nth-child(4)`);
            if (cell && seen[seen.length - 1] !== cell.textContent) seen.push(cell.textContent);
        }).observe(document.querySelector("#workloads tbody"), {childList: true, subtree: true});
    }""", name)


def logged_in(browser: object, cluster: Cluster, token: str, errors: list[str]) -> object:
    page = watched(browser.new_page(ignore_https_errors=True), errors)
    page.goto(f"{cluster.url}/ui/")
    page.fill("#token", token)
    page.click("button[type=submit]")
    sync_api.expect(page.locator("#workloads-page")).to_be_visible()
    return page


def submit_form(browser: object, cluster: Cluster, token: str, errors: list[str]) -> object:
    """Logged in, on the Submit page."""
    page = logged_in(browser, cluster, token, errors)
    page.click("#nav-submit")
    return page


def test_a_researcher_logs_in_and_watches_their_workloads_go_running(cluster, browser, shots, alice):
    errors: list[str] = []
    team_a, team_b, token = "runai-team-a", "runai-team-b", alice
    cluster.kubectl("apply", "-f", "-", input=training("theirs", team_b))

    page = watched(browser.new_page(ignore_https_errors=True), errors)
    page.goto(f"{cluster.url}/ui/")
    sync_api.expect(page.locator("#login-page")).to_be_visible()
    page.screenshot(path=shots / "login.png")

    page.fill("#token", "not-a-token")
    page.keyboard.press("Enter")  # the keyboard is enough
    sync_api.expect(page.locator("#login-error")).to_contain_text("refused")

    page.fill("#token", token)
    page.click("button[type=submit]")
    sync_api.expect(page.locator("#workloads-page")).to_be_visible()
    sync_api.expect(page.locator("#who")).to_have_text("alice")

    record_phases(page, "mine")
    cluster.kubectl("apply", "-f", "-", input=training("mine", team_a))
    row = page.locator("#workloads tbody tr[data-name=mine]")
    sync_api.expect(row).to_be_visible(timeout=20_000)  # no reload: the live feed brings it
    sync_api.expect(row.locator("td").nth(3)).to_have_text("Running", timeout=30_000)
    phases = page.evaluate("window.phases.mine")
    assert phases[0] in WAITING and phases[-1] == "Running", phases
    assert row.locator("td").nth(1).inner_text() == "team-a"
    page.screenshot(path=shots / "workloads.png", full_page=True)

    assert page.locator("#workloads tbody tr[data-name=theirs]").count() == 0  # team-b's is not alice's
    page.select_option("#filter-phase", "Running")
    sync_api.expect(page.locator("#count")).to_have_text("1 workload")
    assert errors == [], errors
    page.close()


def test_a_training_submitted_through_the_form_is_refused_at_the_gpu_field_then_runs(cluster, browser, shots, alice):
    training_policy(cluster, "one-gpu", "runai-team-a", 'gpu: {rules: {max: "1"}}')
    errors: list[str] = []
    page = submit_form(browser, cluster, alice, errors)
    sync_api.expect(page.locator("#submit-page")).to_be_visible()
    sync_api.expect(page.locator("#field-gpu")).to_be_visible()
    assert page.locator("label[for=field-gpu]").inner_text() == "GPU"
    assert "GPUs for each pod" in page.locator("#help-gpu").inner_text()  # the field's description, from berth.api
    page.fill("#submit-name", "formed")
    page.fill("#field-image", "ubuntu")
    page.fill("#field-command", "sleep 600")
    page.fill("#field-gpu", "2")
    assert 'gpu:\n    value: "2"' in page.locator("#submit-yaml").text_content()  # what will be submitted
    page.click("#submit button[type=submit]")
    verdict = page.locator("[id='verdict-spec.gpu']")
    sync_api.expect(verdict).to_contain_text("must be no greater than 1")
    sync_api.expect(page.locator("#submit-result")).to_contain_text("Not submitted")
    page.screenshot(path=shots / "submit-refused.png", full_page=True)

    page.fill("#field-gpu", "1")
    record_phases(page, "formed")
    page.click("#submit button[type=submit]")
    sync_api.expect(page.locator("#submit-result")).to_have_text("Submitted formed to runai-team-a.")
    sync_api.expect(verdict).to_have_text("")
    page.click("#nav-workloads")
    row = page.locator("#workloads tbody tr[data-name=formed]")
    sync_api.expect(row.locator("td").nth(3)).to_have_text("Running", timeout=30_000)
    stored = cluster.kubectl("get", "tw", "formed", "-n", "runai-team-a", "-o", "jsonpath={.spec.gpu.value}").stdout
    assert stored == "1"
    seen = page.evaluate("window.phases.formed")
    assert seen[0] in WAITING and seen[-1] == "Running", seen  # in the list, without a reload
    assert errors == [], errors
    page.close()


def training_policy(cluster: Cluster, name: str, namespace: str, *fields: str) -> None:
    """`kubectl apply` a TrainingPolicy whose spec has these fields (one YAML line each)."""
    spec = "".join(f"  {field}\n" for field in fields)
    cluster.kubectl("apply", "-f", "-", input=f"apiVersion: run.ai/v2alpha1\nkind: TrainingPolicy\n"
                                             f"metadata: {{name: {name}, namespace: {namespace}}}\nspec:\n{spec}")


def settled(cluster: Cluster, namespace: str) -> int:
    """How many workloads the namespace has, once every one of them is Running."""
    deadline = time.monotonic() + 60
    while True:
        phases = cluster.kubectl("get", "tw", "-n", namespace, "-o", "jsonpath={.items[*].status.phase}").stdout.split()
        if all(p == "Running" for p in phases) or time.monotonic() > deadline:
            return len(phases)
        time.sleep(0.2)


def test_the_quota_bars_follow_what_a_project_holds(cluster, browser, shots, alice):
    errors: list[str] = []
    page = logged_in(browser, cluster, alice, errors)
    page.click("#nav-projects")
    bar = page.locator("[data-project=team-a] [data-pool=default] .bar")
    allocated = settled(cluster, "runai-team-a")  # one GPU each, whatever the tests before left running
    sync_api.expect(bar).to_have_attribute("aria-label", re.compile(rf"^{allocated} of 2 deserved GPUs allocated"),
                                           timeout=30_000)
    assert page.locator("[data-project=team-b]").count() == 0  # not alice's project
    cluster.kubectl("apply", "-f", "-", input=training(f"more-{allocated}", "runai-team-a"))
    sync_api.expect(bar).to_have_attribute("aria-label", re.compile(rf"^{allocated + 1} of 2 deserved"),
                                           timeout=30_000)  # live: no reload
    page.screenshot(path=shots / "projects.png", full_page=True)
    assert errors == [], errors
    page.close()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`berth up` with its local node: workloads run as processes here, with output to follow."""
    yield from running(tmp_path_factory.mktemp("ui-local"))


def test_a_workloads_page_follows_its_logs_and_suspends_and_resumes_it(local, browser, shots):
    namespace = local.project("demo")
    local.kubectl("apply", "-f", "-", input=textwrap.dedent(f"""\
        apiVersion: run.ai/v2alpha1
        kind: TrainingWorkload
        metadata: {{name: talker, namespace: {namespace}}}
        spec:
          image: {{value: python:3.11}}
          command:
            value: >-
              python3 -u -c "import time; [(print('line', i, flush=True), time.sleep(0.2)) for i in range(600)]"
        """))
    errors: list[str] = []
    page = logged_in(browser, local, local.token, errors)
    page.click("#workloads tbody tr[data-name=talker] a")
    sync_api.expect(page.locator("#detail-page")).to_be_visible()
    sync_api.expect(page.locator("#detail-title")).to_have_text("TrainingWorkload talker (demo)")
    sync_api.expect(page.locator("#detail-phase")).to_have_text("Running", timeout=30_000)
    log = page.locator("#log")
    sync_api.expect(log).to_contain_text("line 3", timeout=30_000)
    sync_api.expect(log).to_contain_text("line 12", timeout=30_000)  # followed: more arrives without a reload
    assert page.locator("#detail-pods tbody tr").count() == 1
    assert "Running: 1 pod running" in page.locator("#detail-events").inner_text()  # its history
    page.screenshot(path=shots / "workload.png", full_page=True)

    page.click("#act-suspend")
    sync_api.expect(page.locator("#detail-phase")).to_have_text("Stopped", timeout=30_000)
    assert local.kubectl("get", "tw", "talker", "-n", namespace, "-o",
                         "jsonpath={.spec.active.value}").stdout == "false"
    page.click("#act-resume")
    sync_api.expect(page.locator("#detail-phase")).not_to_have_text("Stopped", timeout=30_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#act-delete")
    sync_api.expect(page.locator("#workloads-page")).to_be_visible()
    assert errors == [], errors
    page.close()


def test_a_waiting_workloads_page_says_why_in_the_schedulers_words(cluster, browser, shots, alice):
    cluster.kubectl("apply", "-f", "-", input=training("too-big", "runai-team-b").replace('"1"', '"9"'))
    errors: list[str] = []
    page = logged_in(browser, cluster, cluster.token, errors)  # the admin: team-b has no policy of one GPU
    page.goto(f"{cluster.url}/ui/#workload/TrainingWorkload/runai-team-b/too-big")
    sync_api.expect(page.locator("#detail-phase")).to_have_text("Pending")
    waiting = page.locator("#detail-waiting")
    sync_api.expect(waiting).to_contain_text("no node has 9 GPUs (the largest has 8)", timeout=30_000)
    page.screenshot(path=shots / "workload-waiting.png", full_page=True)
    assert errors == [], errors
    page.close()


def test_the_nodes_page_shows_each_gpu_and_who_holds_it_fractions_included(cluster, browser, shots, alice):
    cluster.kubectl("apply", "-f", "-", input=training("half", "runai-team-a").replace('"1"', '"0.5"'))
    errors: list[str] = []
    page = logged_in(browser, cluster, alice, errors)
    page.click("#nav-nodes")
    sync_api.expect(page.locator("#nodes .node")).to_have_count(2)  # the two simulated nodes
    assert page.locator("#nodes .gpu").count() == 16  # 8 GPUs each, as tiles
    half = page.locator(".gpu .occupant", has_text="half-0-0 (team-a): 0.5 GPU")
    sync_api.expect(half).to_have_count(1, timeout=30_000)  # placed: the page follows without a reload
    sync_api.expect(page.locator(".gpu .occupant", has_text="mine-0-0 (team-a): whole GPU")).to_have_count(1)
    assert page.locator(".gpu .occupant", has_text="team-b").count() == 0  # not alice's to see ...
    assert page.locator(".gpu .occupant", has_text="another project's pod: whole GPU").count() >= 1  # ... yet held
    page.screenshot(path=shots / "nodes.png", full_page=True)
    assert errors == [], errors
    page.close()


def test_an_admin_edits_a_policy_as_yaml_and_sees_a_contradiction_inline(cluster, browser, shots, alice):
    errors: list[str] = []
    page = logged_in(browser, cluster, cluster.token, errors)
    page.click("#nav-policies")
    row = page.locator("#policies tbody tr[data-policy=one-gpu]")
    sync_api.expect(row).to_be_visible()
    row.locator("button", has_text="Edit").click()
    editor = page.locator("#policy-yaml")
    assert "max: '1'" in editor.input_value() or 'max: "1"' in editor.input_value()
    editor.fill(editor.input_value().replace("max: '1'", "max: '1'\n      min: '3'"))  # min above max
    page.click("#policy-save")
    sync_api.expect(page.locator("#policy-verdict")).to_contain_text("min")
    page.screenshot(path=shots / "policy-refused.png", full_page=True)
    editor.fill("kind: [unclosed")
    page.click("#policy-save")
    sync_api.expect(page.locator("#policy-verdict")).to_contain_text("not YAML: line 1")
    assert errors == [], errors
    page.close()

    researcher = logged_in(browser, cluster, alice, errors)  # alice may read it, not change it
    researcher.click("#nav-policies")
    mine = researcher.locator("#policies tbody tr[data-policy=one-gpu]")
    sync_api.expect(mine.locator("button")).to_have_text("View")
    mine.locator("button").click()
    assert researcher.locator("#policy-yaml").get_attribute("readonly") is not None
    assert researcher.locator("#policy-save").is_hidden() and researcher.locator("#policy-new").is_hidden()
    researcher.screenshot(path=shots / "policies.png", full_page=True)
    assert errors == [], errors
    researcher.close()


def test_a_workload_uploaded_as_yaml_is_submitted_and_a_bad_file_is_said(cluster, browser, shots, alice, tmp_path):
    good, bad = tmp_path / "uploaded.yaml", tmp_path / "bad.yaml"
    good.write_text(training("uploaded", "runai-team-a"))
    bad.write_text("kind: [unclosed\n")
    errors: list[str] = []
    page = submit_form(browser, cluster, alice, errors)
    page.set_input_files("#submit-upload", str(bad))
    sync_api.expect(page.locator("#submit-result")).to_contain_text("Not submitted: not YAML: line 2: expected ',' or ']'")
    page.set_input_files("#submit-upload", str(good))
    sync_api.expect(page.locator("#submit-result")).to_have_text("Submitted uploaded to runai-team-a.")
    assert cluster.kubectl("get", "tw", "uploaded", "-n", "runai-team-a", "-o", "name").stdout.strip() == \
        "trainingworkload.run.ai/uploaded"
    assert errors == [], errors
    page.close()


def test_the_form_takes_the_projects_policy_defaults_bounds_options_and_locks(cluster, browser, shots, alice):
    training_policy(cluster, "b-rules", "runai-team-b", 'gpu: {rules: {max: "2"}, value: "1"}',
                    "image: {rules: {canEdit: false}, value: ubuntu}", "nodeType: {rules: {options: [a100, h100]}}",
                    "environment: {items: {TEAM: {value: b}}}",
                    "ports: {items: {web: {value: {container: 8080, serviceType: ClusterIP}}}}")
    errors: list[str] = []
    page = submit_form(browser, cluster, cluster.token, errors)  # the admin may submit anywhere
    page.select_option("#submit-project", "runai-team-b")
    sync_api.expect(page.locator("#submit-policy")).to_have_text(
        'Policy: TrainingPolicy "b-rules" in project team-b.')
    sync_api.expect(page.locator("#field-gpu")).to_have_value("1")
    assert page.locator("#policy-gpu").inner_text() == "Policy: default 1; at most 2."
    image = page.locator("#field-image")
    assert image.input_value() == "ubuntu" and image.get_attribute("readonly") is not None
    assert "set by the policy" in page.locator("#policy-image").inner_text()
    assert page.locator("#options-nodeType option").evaluate_all("els => els.map(e => e.value)") == ["a100", "h100"]
    assert page.locator("#field-environment").input_value() == "TEAM=b"  # the policy's default items
    assert page.locator("#field-ports").input_value() == "web: container=8080, serviceType=ClusterIP"
    page.screenshot(path=shots / "submit-policy.png", full_page=True)
    page.select_option("#submit-project", "runai-team-a")  # another project: not b-rules
    sync_api.expect(page.locator("#submit-policy")).not_to_contain_text("b-rules")
    assert page.locator("#field-image").get_attribute("readonly") is None
    assert errors == [], errors
    page.close()


def test_the_keyboard_alone_logs_in_opens_a_workload_and_submits(cluster, browser, alice):
    cluster.kubectl("apply", "-f", "-", input=training("keyed", "runai-team-a"))
    errors: list[str] = []
    page = watched(browser.new_page(ignore_https_errors=True), errors)
    page.goto(f"{cluster.url}/ui/")

    def tab_to(selector: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#token")
    page.keyboard.type(alice)
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#workloads-page")).to_be_visible()
    link = "#workloads tbody tr[data-name=keyed] a"
    sync_api.expect(page.locator(link)).to_be_visible(timeout=20_000)
    tab_to(link)
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#detail-title")).to_have_text("TrainingWorkload keyed (team-a)")
    tab_to("#nav-submit")
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#submit-page")).to_be_visible()
    tab_to("#submit-name")
    page.keyboard.type("typed")
    tab_to("#field-image")
    page.keyboard.type("ubuntu")
    tab_to("#field-gpu")
    page.keyboard.type("1")
    page.keyboard.press("Enter")  # submits the form
    sync_api.expect(page.locator("#submit-result")).to_have_text("Submitted typed to runai-team-a.")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible
    assert errors == [], errors
    page.close()


def test_itemized_fields_take_one_item_a_line(cluster, browser, alice):
    errors: list[str] = []
    page = submit_form(browser, cluster, alice, errors)
    page.fill("#submit-name", "itemized")
    page.fill("#field-image", "ubuntu")
    page.fill("#field-environment", "GREETING=hello world\nMODE=fast")
    page.fill("#field-ports", "web: container=8000, serviceType=NodePort")
    assert "keys: container, external, serviceType, name" in page.locator("#help-ports").inner_text()
    page.click("#submit button[type=submit]")
    sync_api.expect(page.locator("#submit-result")).to_have_text("Submitted itemized to runai-team-a.")
    spec = json.loads(cluster.kubectl("get", "tw", "itemized", "-n", "runai-team-a", "-o", "json").stdout)["spec"]
    assert spec["environment"]["items"] == {"GREETING": {"value": "hello world"}, "MODE": {"value": "fast"}}
    assert spec["ports"]["items"]["web"]["value"] == {"container": 8000, "serviceType": "NodePort"}
    assert errors == [], errors
    page.close()


def test_a_viewer_is_offered_nothing_to_change(cluster, browser):
    viewer = add_user(cluster, "vera", "viewer")
    cluster.kubectl("apply", "-f", "-", input=training("viewed", "runai-team-b"))
    errors: list[str] = []
    page = logged_in(browser, cluster, viewer, errors)
    sync_api.expect(page.locator("#nav-submit")).to_be_hidden()
    page.goto(f"{cluster.url}/ui/#workload/TrainingWorkload/runai-team-b/viewed")
    sync_api.expect(page.locator("#detail-title")).to_have_text("TrainingWorkload viewed (team-b)")
    for action in ("suspend", "resume", "delete"):
        assert page.locator(f"#act-{action}").is_hidden()
    page.goto(f"{cluster.url}/ui/#submit")
    sync_api.expect(page.locator("#workloads-page")).to_be_visible()  # no form for who may not submit
    assert errors == [], errors
    page.close()


def test_a_distributed_workload_is_submitted_through_its_form(cluster, browser, alice):
    errors: list[str] = []
    page = submit_form(browser, cluster, alice, errors)
    page.select_option("#submit-kind", "DistributedWorkload")
    sync_api.expect(page.locator("#field-jobType")).to_be_visible()  # its plain field, an enum to pick from
    assert page.locator("#field-jobType option").evaluate_all("els => els.map(e => e.value)") == \
        ["", "PyTorchJob", "TFJob", "MPIJob", "XGBoostJob"]
    page.fill("#submit-name", "spread")
    page.select_option("#field-jobType", "PyTorchJob")
    page.fill("#field-image", "ubuntu")
    page.click("#submit button[type=submit]")
    sync_api.expect(page.locator("#submit-result")).to_have_text("Submitted spread to runai-team-a.")
    job_type = cluster.kubectl("get", "dw", "spread", "-n", "runai-team-a", "-o", "jsonpath={.spec.jobType}").stdout
    assert job_type == "PyTorchJob"
    assert errors == [], errors
    page.close()
