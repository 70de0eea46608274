"""Structured logs: one JSON object per line, the request id on every line, no client addresses."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING

from geo_service.ops.clients import network_of

if TYPE_CHECKING:
    from geo_service.settings import Settings

#: The id of the request being handled in this task (empty outside requests).
request_id_var: ContextVar[str] = ContextVar("request_id", default="")

#: Record attributes that belong to every LogRecord; everything else passed with ``extra=``
#: ends up as a field of its own.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName",
                                                     "color_message"}


def anonymise_ip(address: str | None) -> str | None:
    """The client's network, not the client: IPv4 cut to /24, IPv6 to /48.

    Examples
    --------
    >>> anonymise_ip("203.0.113.77")
    '203.0.113.0/24'
    >>> anonymise_ip("2001:db8:abcd:12::1")
    '2001:db8:abcd::/48'
    """
    return network_of(address)


class JsonFormatter(logging.Formatter):
    """``{"ts": …, "level": …, "logger": …, "msg": …, "request_id": …, …extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            doc["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        return f"{text} [{request_id}]" if request_id else text


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so configuring twice replaces it."""


def configure_logging(settings: Settings) -> None:
    """Route the service's and uvicorn's loggers to stderr in the configured format.

    uvicorn's own access log is switched off: the service writes one line per request itself
    (``geo_service.access``), with the request id and without the client's address.
    """
    handler = _Handler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
