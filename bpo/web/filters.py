"""Template filters. Times are UTC inside and shown in the viewer's time zone."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from flask_login import current_user


def viewer_zone() -> ZoneInfo:
    name = getattr(getattr(current_user, "user", None), "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    if value is None:
        return ""
    return value.astimezone(viewer_zone()).strftime(fmt)


def register(app: Flask) -> None:
    app.add_template_filter(localtime, "localtime")
