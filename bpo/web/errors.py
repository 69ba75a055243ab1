"""One mapping from errors to responses: the JSON envelope under /api/, pages elsewhere."""

import logging
from urllib.parse import urlsplit

import psycopg
import redis.exceptions
from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from bpo.core.errors import AppError, Unavailable, error_envelope

log = logging.getLogger(__name__)

# Failures of the services we depend on: the answer is 503 and a retry later.
UNAVAILABLE = (
    OperationalError,
    PoolTimeout,
    psycopg.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def render_error(
    status: int, code: str, message: str, fields: dict | None = None, *, without_user: bool = False
) -> Response:
    """The error as the JSON envelope (API) or a page. ``without_user``: the page must
    not load the signed-in user (the database is what failed), so it never fails itself."""
    if is_api_request():
        response = jsonify(error_envelope(code, message, fields))
    else:
        context = {
            "status": status,
            "code": code,
            "message": message,
            "fields": fields or {},
            "back": _back_link(),
        }
        body = None
        if not without_user:
            try:
                body = render_template("errors/error.html", **context)
            except UNAVAILABLE:  # the database failed while loading the user for the page
                body = None
        if body is None:  # no context processors: Flask-Login's would load the user
            template = current_app.jinja_env.get_template("errors/error.html")
            body = template.render(**context, without_user=True)
        response = Response(body)
    response.status_code = status
    if status == 401 and is_api_request():
        response.headers["WWW-Authenticate"] = 'Bearer realm="bpo"'
    return response


def _back_link() -> str | None:
    """The page the user came from, if it is one of ours: an error is never a dead end."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    back = parts.path + (f"?{parts.query}" if parts.query else "")
    return None if back == request.full_path.rstrip("?") else back


def _app_error(exc: AppError) -> Response:
    return render_error(exc.status, exc.code, exc.message, exc.fields)


def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    response = render_error(exc.code or 500, code, exc.description or exc.name)
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _csrf_error(exc: CSRFError) -> Response:
    return render_error(
        400,
        "csrf",
        "The form expired or was not sent from this site. Reload the page and try again.",
    )


def _unavailable(exc: Exception) -> Response:
    log.warning("dependency unavailable: %s", exc)
    error = Unavailable("The service is temporarily unavailable. Please retry shortly.")
    return render_error(error.status, error.code, error.message, without_user=True)


def _dbapi_error(exc: DBAPIError) -> Response:
    if exc.connection_invalidated:
        return _unavailable(exc)
    raise exc


def register(app: Flask) -> None:
    app.register_error_handler(AppError, _app_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    for exc_type in UNAVAILABLE:
        app.register_error_handler(exc_type, _unavailable)
    app.register_error_handler(DBAPIError, _dbapi_error)
