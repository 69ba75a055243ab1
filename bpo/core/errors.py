"""Application errors and their single mapping to HTTP.

Services raise these; the web layer renders them as pages and the API as the
JSON envelope ``{"error": {"code", "message", "fields"}}``.
"""

from collections.abc import Mapping
from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.code, self.message, self.fields)


class ValidationFailed(AppError):
    status = 400
    code = "validation"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Unavailable(AppError):
    status = 503
    code = "unavailable"


def error_envelope(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's one error shape."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def flatten_fields(errors: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """Nested field errors → dotted paths: ``{"payload.lines.0.quantity": [...]}``."""
    flat: dict[str, list[str]] = {}
    for key, value in errors.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_fields(value, path + "."))
        elif isinstance(value, list | tuple):
            flat.setdefault(path, []).extend(str(v) for v in value)
        else:
            flat.setdefault(path, []).append(str(value))
    return flat
