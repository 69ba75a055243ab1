"""Decorators that say who may open a page."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g
from flask_login import current_user, login_required

from bpo.core.auth import ClientPrincipal, StaffPrincipal
from bpo.core.errors import Forbidden
from bpo.identity.models import StaffRole


def staff_required(*roles: StaffRole) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logged-in staff with one of ``roles`` (any staff role if none given)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_user._get_current_object()
            if not isinstance(principal, StaffPrincipal):
                raise Forbidden("This page is for provider staff.")
            if roles and principal.role not in roles:
                raise Forbidden("Your role does not give access to this page.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def client_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """A client user logged in to the tenant named by the URL."""

    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        principal = current_user._get_current_object()
        if not isinstance(principal, ClientPrincipal) or principal.tenant_slug != g.bpo_tenant_slug:
            raise Forbidden("This page is for users of this client account.")
        return view(*args, **kwargs)

    return wrapper
