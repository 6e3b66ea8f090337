"""The web UI with 10,000 workloads (issue M: "a live list ... fast with 10,000 workloads"), in Debian's
chromium driven by Playwright, against `berth up` serving the API alone (nothing runs the workloads: they
stay as created, so the figures are the list's own):

- ui.workloads_10k_listed_s: from opening /ui/ (logged in) to the list saying "500 of 10000 shown": the app
  lists and watches the four kinds, sends 10,000 summaries down one stream, the page draws. Target: under 5 s.
- ui.update_10k_ms: a workload's status changed with a PATCH, to its row showing the new phase (the feed's
  event, the page's filter and sort over 10,000 and redraw): the median of 5. Target: under 500 ms.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from common import BerthUp, Figure, Skip, api_server_alone, lean_posts

COUNT = 10_000
NAMESPACE = "runai-bench"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _workload(i: int) -> bytes:
    return orjson.dumps({"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
                         "metadata": {"name": f"w-{i:05d}", "namespace": NAMESPACE},
                         "spec": {"image": {"value": "ubuntu"}, "gpu": {"value": "1"}}})


def _prepare(server: BerthUp) -> None:
    with httpx.Client(base_url=server.url, verify=server.ca, headers={"Authorization": f"Bearer {server.token}"}) as h:
        namespace = {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": NAMESPACE, "labels": {"runai/queue": "bench"}}}
        project = {"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": "bench"}}
        assert h.post("/api/v1/namespaces", json=namespace).status_code == 201
        assert h.post("/apis/run.ai/v1/projects", json=project).status_code == 201
    asyncio.run(lean_posts(server.url, str(server.ca), server.token,
                           f"/apis/run.ai/v2alpha1/namespaces/{NAMESPACE}/trainingworkloads",
                           [_workload(i) for i in range(COUNT)]))


def ui_10k() -> list[Figure]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise Skip("playwright is not installed (make test installs it)") from None
    if not os.path.exists(CHROMIUM):
        raise Skip("Debian's chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="berth-bench-ui-") as tmp:
        server = BerthUp(Path(tmp), *api_server_alone())
        try:
            _prepare(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                page = browser.new_page(ignore_https_errors=True)
                page.add_init_script(f"sessionStorage.setItem('berth-token', {server.token!r})")
                started = time.perf_counter()
                page.goto(f"{server.url}/ui/")
                page.wait_for_function(f"document.getElementById('count').textContent === '500 of {COUNT} shown'",
                                       timeout=120_000)
                listed = time.perf_counter() - started
                updates = []
                with httpx.Client(base_url=server.url, verify=server.ca,
                                  headers={"Authorization": f"Bearer {server.token}"}) as http:
                    drawn = page.eval_on_selector_all("#workloads tbody tr", "rows => rows.map(r => r.dataset.name)")
                    for name, phase in zip(drawn, ("Running", "Failed", "Running", "Completed", "Running")):
                        cell = f"#workloads tbody tr[data-name='{name}'] td:nth-child(4)"
                        began = time.perf_counter()
                        patched = http.patch(f"/apis/run.ai/v2alpha1/namespaces/{NAMESPACE}/trainingworkloads/{name}"
                                             "/status", json={"status": {"phase": phase}},
                                             headers={"Content-Type": "application/merge-patch+json"})
                        assert patched.status_code == 200, patched.text
                        page.wait_for_function(f"document.querySelector(\"{cell}\")?.textContent === '{phase}'",
                                               timeout=30_000)
                        updates.append((time.perf_counter() - began) * 1000)
                browser.close()
        finally:
            server.close()
    context = {"workloads": COUNT, "rows_drawn": 500, "browser": "Debian chromium, headless",
               "what": "berth up serving the API alone (the workloads stay as created); logged in as the admin"}
    return [Figure("ui.workloads_10k_listed_s", listed, "s", "under 5 s", context),
            Figure("ui.update_10k_ms", statistics.median(updates), "ms", "under 500 ms",
                   {**context, "runs_ms": [round(u) for u in updates]})]


BENCHMARKS = [ui_10k]
