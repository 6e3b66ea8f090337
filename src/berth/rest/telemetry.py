"""Run:ai's inference metrics: `GET /api/v1/workloads/inferences/{workloadId}/metrics` and
`.../pods/{podId}/metrics`, in Run:ai's shape (`MetricsResponse`: measurements of a type, each a list of
timestamped values written as strings), from what Berth's nodes already measure.

What is measured, and where: a node agent meters each serving pod's HTTP requests (`berth.nodes.meter`) and
writes the readings over the last ten seconds to the pod's `run.ai/metrics` annotation (`berth.api.wellknown`):
throughput in requests per second and latency in milliseconds, which are Run:ai's two inference metric
types, THROUGHPUT and LATENCY. Berth keeps no history of them: a request is answered with the current
reading, one sample timestamped now, when its window (`start`..`end`) includes now; a window wholly in the past
or the future gets the type with no values. A workload's THROUGHPUT is the sum over its pods, its LATENCY the
mean over its pods weighted by their throughput (each request counted once). A pod or workload with no
reading yet (no request metered so far, or a simulated node's pod without simulated load) has no values.

Reads are the caller's: a workload or pod the caller may not read is not found.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from berth.api.wellknown import WORKLOAD_KIND_LABEL, WORKLOAD_NAME_LABEL, readings
from berth.client import Client
from berth.rest import ids
from berth.rest.context import caller
from berth.rest.errors import RestError, bad_request

router = APIRouter(tags=["Inference metrics"])

Obj = ids.Obj
INFERENCE = ("InferenceWorkload",)


class InferenceMetricType(str, Enum):
    """What to measure (Run:ai's `InferenceWorkloadMetricType` and `InferencePodMetricType`)."""

    THROUGHPUT = "THROUGHPUT"
    LATENCY = "LATENCY"


#: The reading of `run.ai/metrics` each type is.
READING = {InferenceMetricType.THROUGHPUT: "throughput", InferenceMetricType.LATENCY: "latency"}


class MetricValue(BaseModel):
    value: str = Field(..., description="The value, as Run:ai writes it: requests per second for THROUGHPUT, "
                                        "milliseconds for LATENCY.")
    timestamp: datetime | None = Field(None, description="When it was read (Berth: the time of the request).")


class Measurement(BaseModel):
    type: str = Field(..., description="The metric type measured (THROUGHPUT or LATENCY).")
    labels: dict[str, str] | None = Field(None, description="Labels of the measurement (none here).")
    values: list[MetricValue] | None = Field(..., description="The samples; empty when there is no reading in "
                                                              "the window.")


class MetricsResponse(BaseModel):
    measurements: list[Measurement]


def _window(start: datetime, end: datetime) -> datetime | None:
    """Now, when now is in the window (the time of the one sample Berth has); 400 for a window that ends
    before it starts."""
    start, end = (t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (start, end))
    if end < start:
        raise bad_request("end", "the window ends before it starts", "give an end at or after start")
    now = datetime.now(timezone.utc)
    return now if start <= now <= end else None


def aggregate(pods: list[Obj], kind: InferenceMetricType) -> float | None:
    """A workload's reading of `kind` from its pods' (None when no pod has one): THROUGHPUT adds up; LATENCY is
    the throughput-weighted mean (a pod that answered nothing has no latency)."""
    found = [readings(p) for p in pods]
    if kind is InferenceMetricType.THROUGHPUT:
        values = [r["throughput"] for r in found if "throughput" in r]
        return round(sum(values), 3) if values else None
    weighted = [(r["latency"], r.get("throughput", 0.0)) for r in found if "latency" in r]
    if not weighted:
        return None
    total = sum(w for _, w in weighted)
    mean = sum(v * w for v, w in weighted) / total if total > 0 else sum(v for v, _ in weighted) / len(weighted)
    return round(mean, 1)


def _text(value: float) -> str:
    """A reading as Run:ai writes values: plain decimal digits ("30", "12.5"), never an exponent."""
    return str(int(value)) if value == int(value) else format(value, "f").rstrip("0")


def _answer(pods: list[Obj], types: list[InferenceMetricType], at: datetime | None, samples: int) -> MetricsResponse:
    out = []
    for kind in dict.fromkeys(types):  # each type once, in the order asked
        value = aggregate(pods, kind) if at is not None and samples > 0 else None
        out.append(Measurement(type=kind.value, values=[] if value is None else [
            MetricValue(value=_text(value), timestamp=at)]))
    return MetricsResponse(measurements=out)


async def _pods(client: Client, workload: Obj) -> list[Obj]:
    """The workload's pods, by the labels its controller puts on them."""
    meta = workload["metadata"]
    return await client.list("Pod", meta["namespace"], labels={WORKLOAD_NAME_LABEL: meta["name"],
                                                               WORKLOAD_KIND_LABEL: workload["kind"]})


TYPES = Query(..., description="The metric types to measure.")
START = Query(..., description="Start of the window (ISO 8601).")
END = Query(..., description="End of the window (ISO 8601).")
SAMPLES = Query(20, ge=0, le=1000, description="Most samples per type (Berth has one: the current reading).")


@router.get("/api/v1/workloads/inferences/{workloadId}/metrics", response_model=MetricsResponse,
            summary="Get inference metrics data.")
async def inference_metrics(workloadId: UUID, metricType: list[InferenceMetricType] = TYPES,  # noqa: N803
                            start: datetime = START, end: datetime = END, numberOfSamples: int = SAMPLES,  # noqa: N803
                            client: Client = Depends(caller)) -> MetricsResponse:
    """The workload's THROUGHPUT (sum over its pods) and LATENCY (their throughput-weighted mean)."""
    at = _window(start, end)
    workload = await ids.workload(client, str(workloadId), INFERENCE)
    return _answer(await _pods(client, workload), metricType, at, numberOfSamples)


@router.get("/api/v1/workloads/inferences/{workloadId}/pods/{podId}/metrics", response_model=MetricsResponse,
            summary="Get inference pod's metrics data.")
async def inference_pod_metrics(workloadId: UUID, podId: UUID, metricType: list[InferenceMetricType] = TYPES,  # noqa: N803
                                start: datetime = START, end: datetime = END, numberOfSamples: int = SAMPLES,  # noqa: N803
                                client: Client = Depends(caller)) -> MetricsResponse:
    """One pod's THROUGHPUT and LATENCY."""
    at = _window(start, end)
    workload = await ids.workload(client, str(workloadId), INFERENCE)
    pod = next((p for p in await _pods(client, workload) if p["metadata"].get("uid") == str(podId)), None)
    if pod is None:
        raise RestError(404, f"pod {podId} of workload {workloadId} not found",
                        details=f"GET /api/v1/workloads/{workloadId}/pods lists its pods and their ids")
    return _answer([pod], metricType, at, numberOfSamples)
