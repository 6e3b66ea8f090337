"""The object store's cost under the API server: creates per second, listing 10,000 objects, and the raw
SQLite insert rate that the API server's creates/s target is a ratio of.

The documents are ~2 KB workloads shaped like what the API server stores (metadata with uid, labels,
annotations and a last-applied-configuration, a spec and a status). Every figure uses a fresh file in a
temporary directory, WAL, synchronous=NORMAL.
"""

from __future__ import annotations

import copy
import gc
import itertools
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from common import Figure, median_rate

from berth.store import ResourceRef, Store

REF = ResourceRef("run.ai", "trainingworkloads")
NAMESPACE = "runai-team-a"

_SPEC = {
    "name": {"value": "train-1"},
    "image": {"value": "nvcr.io/nvidia/pytorch:24.01-py3"},
    "gpu": {"value": "4"},
    "nodePools": {"value": "h100"},
    "largeShm": {"value": True},
    "command": {"value": "bash"},
    "arguments": {"value": "/scripts/run.sh --epochs 3"},
    "environment": {"items": {"HF_TOKEN": {"value": "SECRET:hf-secret,secret"}, "HOME": {"value": "/home/u"}}},
    "pvcs": {"items": {"pvc--0": {"value": {"claimName": "scratch", "existingPvc": True, "path": "/scratch",
                                             "readOnly": False}}}},
}


def document(name: str) -> dict:
    """A ~2 KB TrainingWorkload as the API server would store it."""
    spec = copy.deepcopy(_SPEC)
    applied = {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
               "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}
    return {
        "apiVersion": "run.ai/v2alpha1",
        "kind": "TrainingWorkload",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": str(uuid.uuid4()),
            "generation": 1,
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": {"project": "team-a", "runai/queue": "team-a", "app": name},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": orjson.dumps(applied).decode()},
        },
        "spec": spec,
        "status": {"phase": "Pending", "conditions": [
            {"type": "Submitted", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z",
             "reason": "Submitted", "message": "the workload was accepted by the API server"},
        ]},
    }


DOC_BYTES = len(orjson.dumps(document("train-00000")))


def creates_per_s() -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store.db")
        counter = itertools.count()
        docs = [document(f"train-{i:05d}") for i in range(64)]

        def create() -> None:
            i = next(counter)
            store.create(REF, NAMESPACE, f"w-{i:06d}", docs[i % 64])

        rate, rates = median_rate(create, per_round=1000)
        store.close()
    return Figure("store.creates_per_s", rate, "creates/s", ">= 3000 (API server: >= 1000)",
                  {"rounds": [round(r) for r in rates], "doc_bytes": DOC_BYTES})


def list_10k_s() -> Figure:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store.db")
        for i in range(10_000):
            store.create(REF, NAMESPACE, f"w-{i:06d}", document(f"w-{i:06d}"))
        times = []
        for _ in range(7):
            gc.collect()  # each round starts from the same heap; the collection a list causes is timed
            start = time.perf_counter()
            page = store.list(REF, NAMESPACE)
            times.append(time.perf_counter() - start)
            assert len(page.items) == 10_000
            del page
        store.close()
    return Figure("store.list_10k_s", statistics.median(times), "s", "< 0.2 (API server: < 0.5)",
                  {"rounds": [round(t, 4) for t in times], "doc_bytes": DOC_BYTES})


def sqlite_raw_inserts_per_s() -> Figure:
    """The floor under every store: one JSON document per transaction into a plain table, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, body BLOB NOT NULL)")
        counter = itertools.count()
        docs = [document(f"train-{i:05d}") for i in range(64)]

        def insert() -> None:
            i = next(counter)
            conn.execute("BEGIN")
            conn.execute("INSERT INTO docs (name, body) VALUES (?, ?)", (f"w-{i:06d}", orjson.dumps(docs[i % 64])))
            conn.execute("COMMIT")

        rate, rates = median_rate(insert, per_round=1000)
        conn.close()
    return Figure("store.sqlite_raw_inserts_per_s", rate, "inserts/s", "baseline (no target)",
                  {"rounds": [round(r) for r in rates], "doc_bytes": DOC_BYTES})


BENCHMARKS = [creates_per_s, list_10k_s, sqlite_raw_inserts_per_s]
