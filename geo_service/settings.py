"""Service settings, read from ``GEO_SERVICE_*`` environment variables and a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Lower Saxony (with a margin for the Elbe and the coast), lon/lat.
LOWER_SAXONY_BBOX = (6.6, 51.29, 11.65, 53.9)


class Settings(BaseSettings):
    """Everything configurable about one Quartierskarte deployment.

    Built once (``Settings()``) and handed to ``create_app``; tests build their own.
    """

    model_config = SettingsConfigDict(
        env_prefix="GEO_SERVICE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL/PostGIS URL. Empty: run the embedded private cluster in data_dir.",
    )
    database_read_url: str | None = Field(
        default=None, description="Optional read-only replica URL for read endpoints."
    )
    data_dir: Path = Field(
        default=Path(".data"), description="Folder for the embedded cluster and its password."
    )
    embedded_port: int = Field(default=55432, description="Port of the embedded cluster (127.0.0.1).")
    host: str = Field(default="127.0.0.1", description="Address the HTTP service binds to.")
    port: int = Field(default=8000, description="Port the HTTP service listens on.")
    workers: int = Field(default=1, description="Number of uvicorn worker processes.")
    layers_dir: Path = Field(default=Path("layers"), description="Folder of layer YAML files.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS; '*' allows every origin."
    )
    service_area_bbox: tuple[float, float, float, float] = Field(
        default=LOWER_SAXONY_BBOX,
        description="Features must lie inside this lon/lat box (default: Lower Saxony).",
    )
    service_area_file: Path | None = Field(
        default=None, description="Polygon file that replaces service_area_bbox when set."
    )
    max_upload_mb: int = Field(default=50, description="Largest accepted import file in MB.")
    max_body_mb: int = Field(default=2, description="Largest accepted JSON request body in MB.")
    rate_limit_reads: int = Field(
        default=1200, description="Public requests per client network and minute (0: no limit)."
    )
    rate_limit_writes: int = Field(
        default=120, description="Write requests per client network and minute (0: no limit)."
    )
    default_limit: int = Field(default=100, description="Items per page when none is asked for.")
    max_limit: int = Field(default=10000, description="Largest page size a client may ask for.")
    coordinate_precision: int = Field(
        default=6, description="Decimal places of lon/lat in GeoJSON output (6 = about 0.1 m)."
    )
    map_center: tuple[float, float] = Field(
        default=(52.6, 9.4), description="Initial map centre (lat, lon)."
    )
    map_zoom: int = Field(default=8, description="Initial map zoom.")
    basemap_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Basemap tile URL template.",
    )
    basemap_attribution: str = Field(
        default='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
        description="Basemap attribution (HTML, from the operator, not from users).",
    )
    public_url: str | None = Field(
        default=None, description="External base URL, when links must not follow the request."
    )
    cache_max_age: int = Field(
        default=60, description="Seconds clients and proxies may reuse a response unchecked."
    )
    languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["de", "en", "uk", "ar", "tr"],
        description="Languages offered; the first is the default.",
    )
    legal_impressum: str = Field(
        default="Impressum: Bitte tragen Sie hier die Anbieterkennzeichnung nach § 5 DDG ein "
        "(Einstellung GEO_SERVICE_LEGAL_IMPRESSUM).",
        description="Text of the Impressum page (plain text; blank lines separate paragraphs).",
    )
    legal_privacy: str = Field(
        default="Datenschutzerklärung: Bitte tragen Sie hier die Datenschutzerklärung ein "
        "(Einstellung GEO_SERVICE_LEGAL_PRIVACY). Die Karte speichert keine Cookies; "
        "Fehlermeldungen werden ohne vollständige IP-Adresse gespeichert.",
        description="Text of the privacy statement page (plain text).",
    )
    legal_accessibility: str = Field(
        default="Erklärung zur Barrierefreiheit: Bitte tragen Sie hier die Erklärung nach dem "
        "NBGG ein (Einstellung GEO_SERVICE_LEGAL_ACCESSIBILITY). Die Ergebnisliste neben der "
        "Karte ist die barrierefreie Alternative zur Karte.",
        description="Text of the accessibility statement page (plain text).",
    )
    embed_frame_ancestors: str = Field(
        default="'self'",
        description="CSP frame-ancestors sources allowed to frame /embed (space-separated).",
    )
    report_limit_per_client: int = Field(
        default=5, description="'Fehler melden' reports per client network per hour."
    )
    report_limit_total: int = Field(
        default=1000,
        description="Circuit breaker of 'Fehler melden': above this many reports per hour over "
        "all clients, reports are refused from everyone until the hour ends, and an error is "
        "logged and counted (geo_service_reports_breaker_refusals_total) as an alert.",
    )
    map_point_threshold: int = Field(
        default=3000,
        description="Above this many points in view, map pages show counts per grid cell.",
    )
    map_clock_override: bool = Field(
        default=False,
        description="Tests and demos only: map pages accept ?now=ISO-time as the clock.",
    )
    count_exact_limit: int = Field(
        default=10000,
        description="numberMatched is counted exactly up to this many features (the count stops "
        "there); above it the planner's row estimate is used, or numberMatched is left out "
        "(count_estimate). 0 never counts.",
    )
    count_estimate: bool = Field(
        default=False,
        description="Above count_exact_limit, report the planner's estimate as numberMatched "
        "instead of leaving it out (an estimate is not the true count, so off by default).",
    )
    tile_max_features: int = Field(
        default=5000,
        description="Most features in one vector tile (lowest ids first), so low zooms stay small.",
    )
    tile_cache_max_age: int = Field(
        default=300, description="Seconds clients and proxies may reuse a vector tile unchecked."
    )
    db_pool_size: int = Field(default=10, description="Connections per worker.")
    statement_timeout_ms: int = Field(default=15000, description="Per-statement time limit.")
    request_timeout_s: float = Field(
        default=60.0, description="Longest a request may take before it is answered 503."
    )
    # -- operations (issue 7) ---------------------------------------------------------------
    database_read_max_lag_s: float = Field(
        default=30.0,
        description="Reads fall back to the primary when the replica lags more than this (seconds).",
    )
    database_read_check_s: float = Field(
        default=5.0,
        description="How long a replica health and lag check is reused per process (seconds).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Addresses or networks whose X-Forwarded-Proto/-Host/-For/-Prefix headers "
        "are believed; '*' trusts every peer (only when the app is reachable through the proxy "
        "alone).",
    )
    root_path: str = Field(
        default="",
        description="Path prefix under which the proxy publishes the service, e.g. "
        "'/quartierskarte'; used for every link.",
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="Log lines as JSON objects (one per line) or as plain text."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level that is logged."
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve Prometheus metrics at /metrics on the internal listener "
        "(metrics_host:metrics_port), never on the public port.",
    )
    # -- hostile requests, slow clients, internal endpoints (issue 10A) ----------------------
    filter_max_length: int = Field(
        default=8000,
        description="Longest CQL2 filter in characters; longer ones are refused (400) before "
        "they are parsed.",
    )
    filter_max_nesting: int = Field(
        default=20,
        description="Deepest nesting of a CQL2 filter, counted before it is parsed: parentheses "
        "and runs of NOT/-/+ in CQL2 text, arrays and objects in CQL2 JSON.",
    )
    filter_parse_timeout_s: float = Field(
        default=1.0,
        description="Longest a CQL2 filter may take to parse (the parser runs in a child "
        "process, which is stopped then); ordinary filters take milliseconds.",
    )
    header_timeout_s: float = Field(
        default=15.0,
        description="A client must send its complete request headers within this many seconds "
        "of connecting (or of the first byte of a further request on the connection); slower "
        "ones get 408 and are closed. 0 switches the deadline off.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address of the internal listener that serves /metrics (never the public "
        "port); 0.0.0.0 in a container whose network only the monitoring reaches.",
    )
    metrics_port: int = Field(
        default=9101, description="Port of the internal /metrics listener."
    )
    # -- uploads and imports (issue 10B) ------------------------------------------------------
    import_max_unpacked_mb: int = Field(
        default=200,
        description="Largest total of the files a zipped Shapefile unpacks to, in MB, counted "
        "while unpacking (a 15 MB zip can hold a 1 GB .dbf).",
    )
    import_max_features: int = Field(
        default=250_000,
        description="Most features (CSV: rows) one import may hold; a larger file is refused "
        "before it is validated.",
    )
    import_report_rejections: int = Field(
        default=1000,
        description="Rejected features an import report lists one by one; all of them are "
        "counted, by reason.",
    )
    import_concurrency: int = Field(
        default=2, ge=1,
        description="Imports one service process runs at the same time, each in a process of "
        "its own; further uploads wait their turn as accepted jobs.",
    )
    import_queue_limit: int = Field(
        default=10, ge=1,
        description="Imports one service process holds at once (running and waiting); beyond "
        "that an upload is answered 503 with Retry-After and nothing is stored.",
    )
    import_wait_s: float = Field(
        default=10.0, ge=0,
        description="How long an upload waits for its import job: the finished report within "
        "this time, else 202 with the job's address (never longer than the request timeout "
        "allows).",
    )
    import_timeout_s: float = Field(
        default=900.0, gt=0,
        description="Longest an import job may run; then it is stopped and nothing is stored.",
    )
    import_max_memory_mb: int = Field(
        default=2048,
        description="Memory (data segment) one import process may use; beyond it the import "
        "stops, nothing is stored, and the upload is refused as too large. 0: no limit.",
    )
    pg_bin_dir: Path | None = Field(
        default=None,
        description="Folder with pg_dump/pg_restore; empty: the server's major version under "
        "/usr/lib/postgresql, else the newest installed.",
    )
    # -- what leaves the service, and whom it believes (issue 10C) ---------------------------
    export_max_features: int = Field(
        default=50000, ge=1,
        description="Most features in one 'download what I see' file (lowest ids first); the "
        "answer says when the cap cut the view (Export-Truncated header, a note on the page).",
    )
    export_concurrency: int = Field(
        default=2, ge=1,
        description="'Download what I see' exports running at once per process; more wait up to "
        "10 s for a slot, then get 503 with Retry-After.",
    )
    report_limit_per_block: int = Field(
        default=30, ge=0,
        description="'Fehler melden' reports per hour from one wider block of networks (IPv4 "
        "/16, IPv6 /32), on top of report_limit_per_client per network.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                import json

                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"'{entry}' is neither an IP address nor a network "
                                     "(e.g. 10.0.0.0/8) nor '*'") from None
        return value

    @field_validator("root_path")
    @classmethod
    def _normalise_root_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            value = "/" + value
        if any(c in value for c in "?#\\ "):
            raise ValueError("root_path must be a plain path such as /quartierskarte")
        return value

    @field_validator("cors_origins", "languages", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                import json

                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def embedded(self) -> bool:
        """True when the service runs its own private PostgreSQL cluster."""
        return not self.database_url
