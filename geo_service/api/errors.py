"""Every error becomes OGC exception JSON with a status code from one table."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service.errors import ServiceError

log = logging.getLogger(__name__)


def ogc_exception(status: int, code: str, detail: str,
                  headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "description": detail, "detail": detail, "status": status},
        status_code=status, headers=headers,
    )


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return ogc_exception(exc.status, exc.code, exc.detail, exc.headers or None)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return ogc_exception(400, "InvalidParameterValue", "; ".join(parts) or "invalid request")


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable"}
    return ogc_exception(exc.status_code, codes.get(exc.status_code, "Error"), str(exc.detail))


#: SQLSTATE classes that mean "the database is not there right now", not "bad statement":
#: 08 connection exception, 57P0x shutdown / cannot connect now, 53300 too many connections,
#: 57014 statement timeout.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300", "57014")
_UNAVAILABLE_NAMES = ("Connection", "CannotConnect", "AdminShutdown", "CrashShutdown",
                      "TooManyConnections", "QueryCanceled", "InterfaceError")


def _unavailable(exc: BaseException) -> bool:
    """Connection trouble (the database restarting, unreachable) rather than a bad statement.

    Walks the chain of causes: SQLAlchemy wraps the driver's error, which may wrap an OSError.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (OSError, ConnectionError, TimeoutError)):
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        if any(word in type(current).__name__ for word in _UNAVAILABLE_NAMES):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def _data_exception(exc: BaseException) -> str | None:
    """PostgreSQL's message when it refused a value (SQLSTATE class 22, e.g. 22003 a number
    out of range for an int4 column), else None."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith("22"):
            return str(getattr(current, "args", [""])[0] or "").splitlines()[0][:200]
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    refused = _data_exception(exc)
    if refused is not None:
        # The checks before the database let a value through that it cannot hold: the client's
        # value, nothing written (the transaction is rolled back); logged, as the checks missed it.
        log.warning("database refused a value on %s: %s", request.url.path, refused)
        why = re.search(r"\(([^()]*)\)\s*$", refused)  # asyncpg: "... (value out of int32 range)"
        return ogc_exception(400, "InvalidData", "Ein Wert passt nicht in die Datenbank"
                             + (f" ({why.group(1)})" if why else "")
                             + "; nichts wurde gespeichert. Prüfen Sie die Angaben, z. B. eine zu "
                             "große Zahl.")
    if not _unavailable(exc):
        return await _unexpected(request, exc)
    log.warning("database unavailable on %s: %s", request.url.path, exc)
    return ogc_exception(
        503, "ServiceUnavailable", "The database is not reachable right now; please retry shortly."
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return ogc_exception(500, "ServerError", "An unexpected error occurred; it has been logged.")


HANDLERS = {
    ServiceError: _service_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    OperationalError: _database_error,
    InterfaceError: _database_error,
    DBAPIError: _database_error,
    OSError: _database_error,
    Exception: _unexpected,
}


def register_error_handlers(app: FastAPI) -> None:
    for exc_type, handler in HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
