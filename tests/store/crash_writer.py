"""Helper process for test_crash: create ~2 KB objects forever, printing `name revision` after each returns.

Run as `python crash_writer.py DB_PATH`; the test kills it with SIGKILL mid-stream.
"""

from __future__ import annotations

import sys

from berth.store import ResourceRef, Store

REF = ResourceRef("run.ai", "trainingworkloads")


def main(path: str) -> None:
    store = Store(path)
    padding = "x" * 2000
    i = 0
    while True:
        name = f"w{i:07d}"
        created = store.create(REF, "team-a", name, {"metadata": {"name": name}, "spec": {"padding": padding}})
        sys.stdout.write(f"{name} {created['metadata']['resourceVersion']}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main(sys.argv[1])
