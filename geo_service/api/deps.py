"""Dependencies shared by the routes (``Annotated`` aliases, as in the FastAPI template)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.errors import InvalidParameter, LayerNotFound
from geo_service.layers import Layer, Registry
from geo_service.ops.replica import read_router
from geo_service.queries.values import shown
from geo_service.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


async def get_read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """The read replica's connection while it is reachable and current, else the primary's."""
    async with read_router(request.app.state).connect() as conn:
        yield conn


async def get_write_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.begin() as conn:
        yield conn


def write_transaction(request: Request) -> AbstractAsyncContextManager[AsyncConnection]:
    """A transaction on the primary that commits before the route answers (so an
    acknowledged write is a committed write)."""
    return request.app.state.engine.begin()  # type: ignore[no-any-return]


# Dependencies are ``async def`` even where they do not await: FastAPI runs a plain ``def``
# dependency in a worker thread, a thread hop on every request for a dictionary lookup.
async def get_layer(
    request: Request, layer_id: Annotated[str, Path(alias="layer", description="Layer id")]
) -> Layer:
    layer = get_registry(request).get(layer_id)
    if layer is None:
        known = ", ".join(get_registry(request).ids())
        raise LayerNotFound(f"There is no layer '{layer_id}'. Known layers: {known}.")
    return layer


async def get_language(request: Request) -> str:
    """``lang=`` first, then the browser's Accept-Language; German by default."""
    supported = request.app.state.settings.languages
    wanted = request.query_params.get("lang")
    if wanted in supported:
        return wanted
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in supported:
            return code
    return "de"


async def check_query_text(request: Request) -> None:
    """No query parameter may hold a NUL character (``%00``): PostgreSQL text cannot store one,
    and no parameter of this service means anything with it. Applied to every route."""
    raw = request.scope.get("query_string", b"")
    if b"%00" not in raw and b"\x00" not in raw:
        return
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise InvalidParameter(f"Der Parameter »{shown(name, 40)}« enthält ein Nullzeichen "
                                   "(NUL, %00); entfernen Sie es.")


async def _settings(request: Request) -> Settings:
    return get_settings(request)


async def _registry(request: Request) -> Registry:
    return get_registry(request)


SettingsDep = Annotated[Settings, Depends(_settings)]
RegistryDep = Annotated[Registry, Depends(_registry)]
ReadDep = Annotated[AsyncConnection, Depends(get_read_connection)]
WriteDep = Annotated[AsyncConnection, Depends(get_write_connection)]
LayerDep = Annotated[Layer, Depends(get_layer)]
LangDep = Annotated[str, Depends(get_language)]
