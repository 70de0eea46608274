"""The layer registry: ``layers/*.yaml`` read, expanded and validated once at start-up."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

GeometryType = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "Geometry"
]
PropertyType = Literal[
    "string", "text", "integer", "number", "boolean", "date", "datetime",
    "string[]", "url", "email", "phone", "opening_hours",
]

#: Tables with their own columns; any other layer lives in the generic ``features`` table.
CORE_TABLES = frozenset({"quartiers", "meeting_places", "offers", "projects"})
GENERIC_TABLE = "features"

_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class LayerConfigError(ValueError):
    """A layer file is wrong; the message names the file and the field."""


class Translated(BaseModel):
    """A text in German (required) and English (required), other languages optional."""

    model_config = ConfigDict(extra="allow")
    de: str
    en: str

    def get(self, lang: str) -> str:
        extra = self.model_extra or {}
        return str(extra.get(lang) or (self.en if lang != "de" else self.de))


class Property(BaseModel):
    """One property of a layer's features."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: PropertyType = "string"
    title: Translated | None = None
    column: str | None = None
    required: bool = False
    public: bool = True
    filterable: bool = False
    sortable: bool = False
    enum: list[str] | None = None
    max_length: int | None = None
    personal: bool = False
    read_only: bool = False

    @field_validator("name", "column")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _ID.match(value):
            raise ValueError(f"'{value}' is not a snake_case identifier")
        return value

    @property
    def db_column(self) -> str:
        return self.column or self.name

    @property
    def is_array(self) -> bool:
        return self.type == "string[]"

    def label(self, lang: str) -> str:
        return self.title.get(lang) if self.title else self.name


class Style(BaseModel):
    model_config = ConfigDict(extra="forbid")
    color: str = "#3388ff"
    fill_color: str | None = None
    icon: str = "circle"

    @field_validator("color", "fill_color")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise ValueError("colours are written as #rrggbb")
        return value


class TileOptions(BaseModel):
    """How a layer is offered as vector tiles (OGC API – Tiles, WebMercatorQuad)."""

    model_config = ConfigDict(extra="forbid")
    #: Zoom levels with tiles; outside them a tile request is answered 404 and clients overzoom.
    min_zoom: int = Field(default=0, ge=0, le=24)
    max_zoom: int = Field(default=18, ge=0, le=24)
    #: Public properties carried in tiles; default: the popup's, else every public property.
    properties: list[str] | None = None
    #: Overrides the service-wide feature cap per tile (setting ``tile_max_features``).
    max_features: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> TileOptions:
        if self.min_zoom > self.max_zoom:
            raise ValueError("tiles: min_zoom must not exceed max_zoom")
        return self


class Layer(BaseModel):
    """A published layer: where its data is and how it is shown."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: Translated
    description: Translated | None = None
    table: str | None = None
    geometry_type: GeometryType
    licence: str
    attribution: str | None = None
    properties: list[Property]
    temporal: tuple[str, str] | None = None
    style: Style = Field(default_factory=Style)
    popup: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    nearby: bool = False
    #: The property naming the organisation a record belongs to: editors whose key is bound to
    #: an organisation may change only records whose value equals it.
    owner_property: str | None = None
    tiles: TileOptions = Field(default_factory=TileOptions)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"'{value}' is not a snake_case identifier")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Layer:
        table = self.source_table
        if table not in CORE_TABLES and table != GENERIC_TABLE:
            raise ValueError(
                f"table '{table}' is unknown: use one of {sorted(CORE_TABLES)} or leave 'table' out "
                "to keep the layer in the generic features table"
            )
        names = [p.name for p in self.properties]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"properties named twice: {sorted(dupes)}")
        reserved = {"id", "geometry", "distance_m"}
        if reserved & set(names):
            raise ValueError(f"property names {sorted(reserved & set(names))} are reserved")
        unknown = [f for f in self.popup if f not in names]
        if unknown:
            raise ValueError(f"popup names unknown properties {unknown}")
        public = {p.name for p in self.public_properties}
        hidden = [f for f in self.tiles.properties or [] if f not in public]
        if hidden:
            raise ValueError(f"tiles.properties names unknown or non-public properties {hidden}")
        if self.owner_property and self.owner_property not in names:
            raise ValueError(f"owner_property names unknown property '{self.owner_property}'")
        if self.temporal:
            for name in self.temporal:
                if name not in names:
                    raise ValueError(f"temporal names unknown property '{name}'")
        return self

    @property
    def source_table(self) -> str:
        return self.table or (self.id if self.id in CORE_TABLES else GENERIC_TABLE)

    @property
    def generic(self) -> bool:
        return self.source_table == GENERIC_TABLE

    @property
    def public_properties(self) -> list[Property]:
        """Properties anyone may read, filter, sort and choose (never personal data)."""
        return [p for p in self.properties if p.public and not p.personal]

    @property
    def output_properties(self) -> list[Property]:
        """Properties in published features: public ones, plus personal ones that are shown
        only where a consent is recorded for the feature (masked to null otherwise)."""
        return [p for p in self.properties if p.public or p.personal]

    @property
    def personal_properties(self) -> list[Property]:
        return [p for p in self.properties if p.personal]

    @property
    def tile_properties(self) -> list[Property]:
        """Public properties carried in vector tiles (the tile options', else the popup's)."""
        wanted = self.tiles.properties if self.tiles.properties is not None else self.popup
        if not wanted:
            return self.public_properties
        return [p for p in self.public_properties if p.name in set(wanted)]

    def property(self, name: str) -> Property | None:
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None


def _expand(text: str) -> str:
    """``${VAR:-default}`` expansion, as in pygeoapi's configuration."""

    def repl(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            if match.group(2) is None:
                raise LayerConfigError(f"environment variable {match.group(1)} is not set")
            return match.group(2)
        return value

    return _ENV.sub(repl, text)


def load_layer_file(path: Path) -> Layer:
    """Read and validate one layer file; the file stem must equal the layer id."""
    try:
        raw: Any = yaml.safe_load(_expand(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise LayerConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise LayerConfigError(f"{path}: a layer file must be a mapping")
    raw.setdefault("id", path.stem)
    try:
        layer = Layer.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'layer'}: {err['msg']}" for err in exc.errors()
        )
        raise LayerConfigError(f"{path}: {problems}") from exc
    if layer.id != path.stem:
        raise LayerConfigError(f"{path}: id '{layer.id}' must equal the file name '{path.stem}'")
    return layer


class Registry:
    """All published layers, keyed by id, in file-name order."""

    def __init__(self, layers: list[Layer]):
        self._layers = {layer.id: layer for layer in layers}

    @classmethod
    def from_dir(cls, folder: Path) -> Registry:
        if not folder.is_dir():
            raise LayerConfigError(f"layer folder {folder} does not exist")
        return cls([load_layer_file(p) for p in sorted(folder.glob("*.yaml"))])

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._layers.values())

    def __len__(self) -> int:
        return len(self._layers)

    def __contains__(self, layer_id: object) -> bool:
        return layer_id in self._layers

    def get(self, layer_id: str) -> Layer | None:
        return self._layers.get(layer_id)

    def ids(self) -> list[str]:
        return list(self._layers)
