"""One JSON shape for every error of the REST API, Run:ai's: `{code, message, details?, complianceIssues?}`.

`code` repeats the HTTP status; `message` says what is wrong in a sentence; `details` names the fix where
there is one; `complianceIssues` (`[{field, details}]`, Run:ai's SubmissionError) lists each field that a
policy or validation refused, with the message the API server gave for it, so a policy violation reads the
same through REST as through kubectl. Errors of the Kubernetes API (`berth.client.errors.ApiError`) become
this shape here, and so do FastAPI's request-validation errors (400, naming the field, instead of FastAPI's
422 `detail` list).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from berth.client import errors as client_errors


class ComplianceIssue(BaseModel):
    field: str = Field(..., description="The field, as a dotted path in the request body.")
    details: str = Field(..., description="What is wrong with it and how to fix it.")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    code: int = Field(..., ge=100, le=599, description="The HTTP status code.")
    message: str = Field(..., description="What went wrong.")
    details: str | None = Field(None, description="How to fix it, where Berth knows.")
    complianceIssues: list[ComplianceIssue] | None = Field(
        None, description="Each field a policy or validation refused, with the reason.")


class RestError(Exception):
    """Raise to answer with an error; `field` names the request field at fault (it becomes one compliance
    issue)."""

    def __init__(self, code: int, message: str, *, details: str | None = None, field: str | None = None,
                 issues: list[ComplianceIssue] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.issues = list(issues or [])
        if field is not None:
            self.issues.insert(0, ComplianceIssue(field=field, details=details or message))

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        if self.issues:
            out["complianceIssues"] = [i.model_dump() for i in self.issues]
        return out


def bad_request(field: str, message: str, fix: str | None = None) -> RestError:
    """400 naming the field: `field: message` with the fix in `details`."""
    return RestError(400, f"{field}: {message}", details=fix, field=field)


def not_found(what: str, fix: str | None = None) -> RestError:
    return RestError(404, f"{what} not found", details=fix)


def from_api_error(exc: client_errors.ApiError, *, fields: dict[str, str] | None = None) -> RestError:
    """The Kubernetes API's refusal in the REST shape. Each `details.causes` entry becomes a compliance
    issue; `fields` translates a cause's field path (`spec.gpu`) to the REST field that set it
    (`spec.compute.gpuDevicesRequest`) where the caller knows the mapping."""
    fields = fields or {}
    issues = []
    for cause in exc.causes:
        path = str(cause.get("field") or "")
        issues.append(ComplianceIssue(field=fields.get(path, path), details=str(cause.get("message") or "")))
    code = exc.code if 400 <= exc.code <= 599 else 500
    if code == 422:  # the Kubernetes API's Invalid: a bad request in Run:ai's API
        code = 400
    return RestError(code, exc.message, issues=issues)


def from_client_error(exc: client_errors.ClientError) -> RestError:
    if isinstance(exc, client_errors.ApiError):
        return from_api_error(exc)
    if isinstance(exc, client_errors.Unreachable):
        return RestError(503, f"the Kubernetes API could not be reached: {exc}",
                         details="check that the API server is running; retry")
    return RestError(500, str(exc))


def _location(loc: tuple[Any, ...]) -> str:
    """FastAPI's error location as a field path: ('body', 'spec', 'compute', 'gpuDevicesRequest') ->
    spec.compute.gpuDevicesRequest, ('body', 'resources', 0, 'gpu') -> resources[0].gpu; query parameters by
    their name."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def install(app: FastAPI) -> None:
    """Answer every error in `ErrorBody`'s shape."""

    async def rest_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RestError)
        return JSONResponse(exc.body(), status_code=exc.code)

    async def client_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, client_errors.ClientError)
        err = from_client_error(exc)
        return JSONResponse(err.body(), status_code=err.code)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        issues = [ComplianceIssue(field=_location(tuple(e.get("loc", ()))), details=str(e.get("msg", "")))
                  for e in exc.errors()]
        first = issues[0] if issues else ComplianceIssue(field="body", details="invalid request")
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        err = RestError(400, f"{first.field}: {first.details}{more}",
                        details="fix the fields listed in complianceIssues and send the request again",
                        issues=issues)
        return JSONResponse(err.body(), status_code=400)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(RestError(exc.status_code, message).body(), status_code=exc.status_code,
                              headers=getattr(exc, "headers", None))

    app.add_exception_handler(RestError, rest_error)
    app.add_exception_handler(client_errors.ClientError, client_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)


#: The error answers every path documents (FastAPI `responses=`), so the OpenAPI document shows the shape.
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in ((400, "Bad request: the field and the fix"), (401, "No or unknown bearer token"),
                       (403, "The caller's role does not allow it"), (404, "Not found"),
                       (503, "The Kubernetes API could not be reached"))
}
