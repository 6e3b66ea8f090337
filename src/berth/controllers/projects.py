"""The project controller: every Project gets its namespace, labelled `runai/queue=<project>`.

The namespace is `runai-<project>` unless the Project names an existing one (`spec.namespace`), which is
then only labelled. A namespace Berth created is owned by its Project and goes with it; refusing to
delete a Project (or its namespace) that still has workloads is the API server's job (admission), not this
controller's. The Project's status (phase, namespace, usage) is the usage controller's (`usage`): one
writer per status, so that neither overwrites the other.

A write that loses a race (Conflict: someone changed the object first) is ordinary here, not a problem
to report: the project is reconciled again, from the cache, after `RETRY_S`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from berth.api.projects import QUEUE_LABEL, namespace_of_project, project_namespace
from berth.client import AlreadyExists, ApiError, Client, Conflict
from berth.client.informer import Change, Informer

log = logging.getLogger(__name__)

RETRY_S = 0.5


def namespace_of(project: dict[str, Any]) -> str:
    return namespace_of_project(project["metadata"]["name"], project.get("spec"))


class ProjectController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.projects = Informer(client, "Project", handlers=[self._changed])
        self.namespaces = Informer(client, "Namespace", handlers=[self._namespace_changed])

    async def _changed(self, change: Change) -> None:
        if change.type != "DELETED":
            self.queue.put_nowait(change.object["metadata"]["name"])

    async def _namespace_changed(self, change: Change) -> None:
        project = (change.object["metadata"].get("labels") or {}).get(QUEUE_LABEL)
        if project:
            self.queue.put_nowait(project)

    async def run(self) -> None:
        for informer in (self.projects, self.namespaces):
            informer.start()
        try:
            await self.projects.wait_synced()
            await self.namespaces.wait_synced()
            for project in self.projects.items():
                self.queue.put_nowait(project["metadata"]["name"])
            while True:
                name = await self.queue.get()
                try:
                    await self.reconcile(name)
                except Conflict:
                    log.debug("project %s: lost a race; trying again", name)
                    asyncio.get_running_loop().call_later(RETRY_S, self.queue.put_nowait, name)
                except ApiError as exc:
                    log.warning("project %s: %s", name, exc)
        finally:
            await asyncio.gather(self.projects.stop(), self.namespaces.stop(), return_exceptions=True)

    async def reconcile(self, name: str) -> None:
        project = self.projects.get(name)
        if project is None or project["metadata"].get("deletionTimestamp"):
            return
        namespace = namespace_of(project)
        existing = self.namespaces.get(namespace)
        if existing is None:
            try:
                await self.client.create(project_namespace(project))
            except AlreadyExists:
                pass
        elif (existing["metadata"].get("labels") or {}).get(QUEUE_LABEL) != name:
            await self.client.patch("Namespace", namespace, {"metadata": {"labels": {QUEUE_LABEL: name}}})
