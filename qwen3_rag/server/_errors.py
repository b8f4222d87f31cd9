"""Errors in the OpenAI shape, ``{"error": {"message", "type", "param", "code"}}``, for every failure.

Handlers turn request-validation failures, unknown routes and :class:`ApiError` into that shape;
:func:`runtime_error` maps the runtime's exceptions (overload, closing, bad options) to statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._errors import InvalidOptionError, NumericalError, OverloadedError, RuntimeClosedError

logger = logging.getLogger(__name__)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable_error",
}


class ApiError(Exception):
    """An HTTP error answered in the OpenAI error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, code=self.code, param=self.param)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(status: int, message: str, *, code: str, param: str | None = None) -> dict[str, Any]:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def bad_request(param: str, message: str) -> ApiError:
    return ApiError(400, f"{param}: {message}", code="invalid_value", param=param)


def runtime_error(exc: BaseException, retry_after_s: int) -> ApiError:
    """The answer for an exception the runtime raised while serving a request."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, OverloadedError):
        return ApiError(
            429, f"The server is busy: {exc}", code="overloaded", headers={"Retry-After": str(retry_after_s)}
        )
    if isinstance(exc, RuntimeClosedError):
        return ApiError(503, f"The server is shutting down: {exc}", code="closing")
    if isinstance(exc, NumericalError):
        return ApiError(500, str(exc), code="numerical_error")
    if isinstance(exc, (InvalidOptionError, TypeError, ValueError)):
        return ApiError(400, str(exc), code="invalid_value")
    logger.error("qwen3-rag serve: unexpected error", exc_info=exc)
    return ApiError(500, f"Internal error ({type(exc).__name__}); see the server log.", code="internal_error")


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """One readable line naming the offending field(s), and the first field's name."""
    if not errors:
        return "The request body is not valid.", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return f"The request body is not valid JSON ({detail}).".replace(" ()", ""), None
    lines, params = [], []
    for error in errors[:3]:
        name = _field(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "this field is required"
        if name == "body" and error.get("type") == "model_attributes_type":
            return "The request body must be a JSON object, sent with Content-Type: application/json.", None
        lines.append(f"{name}: {message}")
        params.append(name)
    more = f" (and {len(errors) - 3} more errors)" if len(errors) > 3 else ""
    return "; ".join(lines) + more, params[0]


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, param = validation_message(exc.errors())
        return ApiError(400, message, code="invalid_value", param=param).response()

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 404:
            message = f"There is no {request.method} {request.url.path}; see GET /v1/models and the docs."
        else:
            message = str(exc.detail)
        code = "not_found" if status == 404 else f"http_{status}"
        return ApiError(status, message, code=code, headers=exc.headers).response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
