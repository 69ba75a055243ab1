"""What staff and client sign-in share: throttling, the form, session rotation."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, render_template, request, session
from flask_login import login_user

from bpo.core.throttle import Keys
from bpo.web.auth.forms import LoginForm


def _keys() -> Keys:
    scope = g.get("bpo_tenant_slug") or "staff"
    email = request.form.get("email", "").strip().lower()
    return Keys(account=f"account:{scope}:{email}", address=f"address:{request.remote_addr}")


def throttled(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse sign-in POSTs past the limits; count each failed one (a 401)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return view(*args, **kwargs)
        throttle = current_app.extensions["bpo"].login_throttle
        limits = {
            "account": current_app.config["BPO_LOGIN_LIMIT_ACCOUNT"],
            "address": current_app.config["BPO_LOGIN_LIMIT_ADDRESS"],
        }
        keys = _keys()
        throttle.check(keys, **limits)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code == 401:
            throttle.failed(keys, **limits)
        return response

    return wrapper


def safe_next(default: str) -> str:
    """The ``next`` target if it stays on this site, else ``default``."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.scheme
        and not parts.netloc
    ):
        return target
    return default


def sign_in(principal: Any) -> None:
    """Start a fresh session for ``principal`` (no fixation of an earlier one)."""
    session.clear()
    login_user(principal)


def render_login(
    form: LoginForm, *, title: str, error: str | None = None, status: int = 200, **context: Any
) -> Any:
    return render_template(
        "auth/login.html", form=form, title=title, error=error, **context
    ), status
