"""The audit log of `berth up` (docs/limits-and-audit.md): kubectl's writes appear in order with who, what,
when and how it ended; reads only when asked; nothing is lost on a clean shutdown; rotation by size."""

from __future__ import annotations

import json
import ssl
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from berth.apiserver.audit import AuditLog
from tests.apiserver.identities import client, named, start, token
from tests.cluster import Cluster

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: audited, namespace: {ns}}}\ndata: {{colour: {colour}}}\n"


def events(cluster: Cluster) -> list[dict]:
    path = cluster.data_dir / "audit" / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(cluster: Cluster, done, timeout: float = 10) -> list[dict]:
    """The log once `done(events)` holds (the writer thread writes within milliseconds)."""
    deadline = time.monotonic() + timeout
    while True:
        found = events(cluster)
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def about(found: list[dict], name: str) -> list[dict]:
    return [e for e in found if e["objectRef"].get("name") == name]


def test_a_kubectl_sequence_is_recorded_in_order_with_who_what_and_when(bare_module_cluster: Cluster):
    c = bare_module_cluster
    c.kubectl("create", "namespace", "audit-a")
    c.kubectl("create", "-f", "-", input=CM.format(ns="audit-a", colour="red"))
    c.kubectl("apply", "-f", "-", input=CM.format(ns="audit-a", colour="green"))
    c.kubectl("patch", "configmap", "audited", "-n", "audit-a", "--type=merge", "-p", '{"data":{"colour":"blue"}}')
    c.kubectl("get", "configmap", "audited", "-n", "audit-a")
    c.kubectl("get", "configmaps", "-n", "audit-a")
    c.kubectl("delete", "configmap", "audited", "-n", "audit-a")
    found = about(wait_for(c, lambda es: any(e["verb"] == "delete" for e in about(es, "audited"))), "audited")
    assert [e["verb"] for e in found] == ["create", "patch", "patch", "delete"]  # apply is a patch; reads absent
    assert [e["responseStatus"]["code"] for e in found] == [201, 200, 200, 200]
    users = {e["user"]["username"] for e in found}
    assert len(users) == 1 and "" not in users
    for e in found:
        assert (e["kind"], e["apiVersion"], e["stage"]) == ("Event", "audit.k8s.io/v1", "ResponseComplete")
        assert e["objectRef"] == {"resource": "configmaps", "namespace": "audit-a", "name": "audited",
                                  "apiVersion": "v1"}
        assert e["userAgent"].startswith("kubectl/")
        assert e["sourceIPs"] == ["127.0.0.1"]
        received = datetime.fromisoformat(e["requestReceivedTimestamp"].replace("Z", "+00:00"))
        assert received <= datetime.fromisoformat(e["stageTimestamp"].replace("Z", "+00:00"))
    stamps = [e["requestReceivedTimestamp"] for e in found]
    assert stamps == sorted(stamps)
    assert c.token not in (c.data_dir / "audit" / "audit.log").read_text()  # the token is never written


def test_a_refused_write_is_recorded_with_its_status(bare_module_cluster: Cluster):
    c = bare_module_cluster
    c.kubectl("create", "namespace", "audit-b")
    assert c.kubectl("create", "namespace", "audit-b", check=False).returncode != 0
    found = about(wait_for(c, lambda es: len(about(es, "audit-b")) >= 2), "audit-b")
    assert [(e["verb"], e["responseStatus"]["code"]) for e in found] == [("create", 201), ("create", 409)]


def test_a_client_cannot_name_another_source_address_in_a_header(bare_module_cluster: Cluster):
    """The server sits behind no proxy: X-Forwarded-For is the client's word, not where it came from."""
    c = bare_module_cluster
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "audit-forwarded"}}
    with httpx.Client(base_url=c.url, verify=ssl.create_default_context(cafile=str(c.ca)),
                      headers={"Authorization": f"Bearer {c.token}"}) as http:
        answer = http.post("/api/v1/namespaces", json=body, headers={"X-Forwarded-For": "10.9.9.9"})
    assert answer.status_code == 201
    found = about(wait_for(c, lambda es: bool(about(es, "audit-forwarded"))), "audit-forwarded")
    assert [e["sourceIPs"] for e in found] == [["127.0.0.1"]]


def test_no_line_is_lost_on_a_clean_shutdown(bare_cluster: Cluster):
    c = bare_cluster
    context = ssl.create_default_context(cafile=str(c.ca))
    with httpx.Client(base_url=c.url, verify=context, headers={"Authorization": f"Bearer {c.token}"}) as http, \
            ThreadPoolExecutor(8) as pool:
        def create(i: int) -> int:
            return http.post("/api/v1/namespaces", json={"metadata": {"name": f"n-{i}"}}).status_code

        assert set(pool.map(create, range(80))) == {201}
    c.stop()  # SIGTERM at once: what is still queued is written before the process ends
    created = [e["objectRef"]["name"] for e in events(c) if e["verb"] == "create"]
    assert sorted(created) == sorted(f"n-{i}" for i in range(80))


@pytest.fixture(scope="module")
def reads_audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Reads audited too; a client of its own (`tests.apiserver.identities`)."""
    c = start(tmp_path_factory.mktemp("reads"), "--audit-log-reads")
    try:
        yield c
    finally:
        c.stop()


def test_reads_are_recorded_when_asked_and_a_client_is_named_never_by_its_token(reads_audited: Cluster):
    c = reads_audited
    with client(c, "reader", headers={"User-Agent": "audit-test/1"}) as http:
        assert http.post("/api/v1/namespaces", json={"metadata": {"name": "readme"}}).status_code == 201
        assert http.get("/api/v1/namespaces/readme").status_code == 200
        assert http.get("/api/v1/namespaces", params={"labelSelector": "x=y"}).status_code == 200
        assert http.get("/api/v1/namespaces", params={"watch": "1", "timeoutSeconds": "1"}).status_code == 200
        assert http.get("/api/v1/namespaces/nothere").status_code == 404
        assert http.get("/apis").status_code == 200  # discovery: no resource, not audited
    exec_url = c.url.replace("http", "ws", 1) + "/api/v1/namespaces/default/pods/nopod/exec?command=ls&stdout=1"
    context = ssl.create_default_context(cafile=str(c.ca)) if c.url.startswith("https") else None
    with pytest.raises(InvalidStatus) as refused:
        connect(exec_url, additional_headers={"Authorization": f"Bearer {token(c, 'reader')}"},
                user_agent_header="exec/1", ssl=context)
    assert refused.value.response.status_code == 404
    [execed] = about(wait_for(c, lambda es: bool(about(es, "nopod"))), "nopod")
    assert (execed["verb"], execed["objectRef"]["subresource"], execed["responseStatus"]["code"]) == \
        ("create", "exec", 404)
    found = wait_for(c, lambda es: sum(e["userAgent"] == "audit-test/1" for e in es) >= 5)
    mine = [e for e in found if e["userAgent"] == "audit-test/1"]
    # A request is recorded when its answer ends (kube-apiserver's ResponseComplete stage): the watch's line
    # may follow that of the request sent once its last byte arrived, so the order is not compared.
    assert sorted([(e["verb"], e["objectRef"].get("name") or "", e["responseStatus"]["code"]) for e in mine]) == \
        sorted([("create", "readme", 201), ("get", "readme", 200), ("list", "", 200), ("watch", "", 200),
                ("get", "nothere", 404)])
    assert {e["user"]["username"] for e in mine} == {named(c, "reader")} == {execed["user"]["username"]}
    ids = [e["auditID"] for e in found]
    assert len(set(ids)) == len(ids) and all(str(uuid.UUID(i)) == i for i in ids)  # unique UUIDs
    assert token(c, "reader") not in (c.data_dir / "audit" / "audit.log").read_text()


def test_the_log_rotates_at_its_size_and_keeps_the_newest_files(tmp_path: Path):
    path = tmp_path / "audit" / "audit.log"
    log = AuditLog(path, max_size=1000, max_backups=3)
    for i in range(100):
        log.write({"seq": i, "pad": "x" * 80})
    log.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]
    kept: list[int] = []
    for name in ("audit.log.3", "audit.log.2", "audit.log.1", "audit.log"):
        text = (path.parent / name).read_bytes()
        assert 0 < len(text) <= 1000
        kept += [json.loads(line)["seq"] for line in text.splitlines()]
    assert kept == list(range(100 - len(kept), 100))  # the newest lines, oldest file first, none torn
    assert path.stat().st_mode & 0o777 == 0o600
    log.write({"seq": 100})  # after close: written at once, not lost
    assert json.loads(path.read_text().splitlines()[-1]) == {"seq": 100}


def test_a_full_disk_drops_lines_with_one_message_and_never_stops_the_log(tmp_path: Path, caplog):
    path = tmp_path / "audit" / "audit.log"
    path.parent.mkdir()
    path.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    log = AuditLog(path, max_size=1000, max_backups=2)
    for i in range(3):
        log.write({"seq": i})
    log.close()
    full = [r for r in caplog.records if "No space left on device" in r.getMessage()]
    assert len(full) == 1 and "audit lines are dropped" in full[0].getMessage()
    path.unlink()  # space again (a fresh file)
    log.write({"seq": 3})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"seq": 3}]
    assert any("writing again; 3 lines were dropped" in r.getMessage() for r in caplog.records)
