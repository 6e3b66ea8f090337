"""The REST app: FastAPI routers of `berth.rest`, Run:ai's error shape, and the OpenAPI document.

`create(base)` builds it around a client of the Kubernetes API (`base`: the cluster's address and CA);
`mounts(kubeconfig)` is what `berth up` hands the API server, which sends the paths under `PREFIXES` here
and everything else to the Kubernetes API (none of these paths is one of Kubernetes'). The OpenAPI 3
document at `/api/v1/openapi.json` is FastAPI's, generated from the request and response models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from berth.client import Client
from berth.rest import clusters, errors, kinds, orgunit, policies, telemetry, workloads
from berth.rest.context import Rest

#: Paths served by the REST app (each with everything under it).
PREFIXES = ("/api/v1/workloads", "/api/v1/org-unit", "/api/v2/policy", "/api/v1/openapi.json",
            "/api/v1/clusters", "/v1/k8s/clusters")
OPENAPI_PATH = "/api/v1/openapi.json"
ROUTERS = (workloads.router, kinds.router, policies.router, orgunit.router, clusters.router, telemetry.router)


def create(base: Client) -> FastAPI:
    """The REST app, acting through `base`'s cluster as each request's caller."""
    app = FastAPI(
        title="Berth: Run:ai REST API", version="2.18",
        description="Run:ai's REST API (2.18) served by Berth beside the Kubernetes API, on the same objects. "
                    "Authenticate with `Authorization: Bearer <token>` (a Berth user's token); ids are "
                    "object uids (docs/rest.md).",
        openapi_url=OPENAPI_PATH, docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.rest = Rest(base)
    app.aclose = app.state.rest.close  # type: ignore[attr-defined]  # berth.apiserver.mounts closes it on exit
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, responses=errors.RESPONSES)
    return app


def mounts(kubeconfig: Path) -> list[tuple[tuple[str, ...], Any]]:
    """The REST app for `berth up`'s API server: talking to it through the kubeconfig it wrote."""
    return [(PREFIXES, create(Client.from_kubeconfig(kubeconfig, field_manager="berth-rest")))]
