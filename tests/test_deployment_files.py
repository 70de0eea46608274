"""Static checks of the container deployment (compose file, Dockerfile, Caddyfile, .env.example).

There is no Docker engine where the tests run, so these read the files as text and YAML and
check the promises docs/deployment.md makes: health checks, migrations once, no published app
port, every variable documented, a non-root image that carries migrations, layers and data.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from geo_service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
CADDYFILE = ROOT / "deploy" / "Caddyfile"

#: ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?error}``, ``${NAME?error}``.
BRACED = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


def unescaped(text: str) -> str:
    """The compose text without ``$$`` (a literal ``$`` for the container, not interpolated)."""
    return text.replace("$$", "")


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution, enough for this file (fails like Compose on ``:?``)."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if op and op.endswith("?"):
            raise ValueError(f"{name}: {arg}")
        return arg if op and op.endswith("-") else ""

    return BRACED.sub(replace, text.replace("$$", "\0")).replace("\0", "$")


def resolved(**env: str) -> dict[str, Any]:
    """The compose file as Compose would see it with .env.example plus ``env``."""
    values = {**env_example(), "POSTGRES_PASSWORD": "0123456789abcdef", **env}
    return yaml.safe_load(interpolate(compose_text(), values))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return resolved()


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    text = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


# -- docker-compose.yml ---------------------------------------------------------
def test_compose_parses_with_the_expected_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"db", "migrate", "app", "proxy", "backup", "prometheus"}
    assert compose["services"]["prometheus"]["profiles"] == ["monitoring"]  # optional
    assert compose["name"] == "quartierskarte"


@pytest.mark.parametrize("service", ["db", "app", "proxy"])
def test_long_running_services_have_a_healthcheck(compose: dict[str, Any], service: str) -> None:
    check = compose["services"][service].get("healthcheck")
    assert check and check.get("test"), f"{service} has no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert not check.get("disable")


def test_database_healthcheck_uses_pg_isready_over_tcp(compose: dict[str, Any]) -> None:
    test = " ".join(compose["services"]["db"]["healthcheck"]["test"])
    assert "pg_isready" in test and "-h 127.0.0.1" in test


def test_app_healthcheck_asks_healthz(compose: dict[str, Any]) -> None:
    assert "/healthz" in " ".join(compose["services"]["app"]["healthcheck"]["test"])


def test_only_the_proxy_publishes_ports(compose: dict[str, Any]) -> None:
    published = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {"proxy"}
    ports = [str(p) for p in compose["services"]["proxy"]["ports"]]
    assert any(p.startswith("80:") for p in ports) and any(p.startswith("443:") for p in ports)


def test_app_runs_several_replicas_without_fixed_names(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    assert int(app["deploy"]["replicas"]) >= 2
    assert "container_name" not in app  # a fixed name forbids more than one replica
    assert resolved(QK_APP_REPLICAS="5")["services"]["app"]["deploy"]["replicas"] == 5


def test_migrate_runs_the_migrations_once(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    assert "geo-service db upgrade" in command_text(migrate)
    assert "geo-service demo --if-empty" in command_text(migrate)
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    # Nobody else migrates: the replicas use the image's CMD (serve).
    for name, svc in services.items():
        if name != "migrate":
            assert "db upgrade" not in command_text(svc), name


def test_demo_data_can_be_switched_off() -> None:
    command = command_text(resolved(QK_LOAD_DEMO="false")["services"]["migrate"])
    script = command.split(" -c ", 1)[1]
    assert '[ "false" = "true" ]' in script


def test_app_waits_for_migrate_and_proxy_for_app(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["app"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"


def test_migrate_and_app_share_one_built_image(compose: dict[str, Any]) -> None:
    migrate, app = compose["services"]["migrate"], compose["services"]["app"]
    assert migrate["image"] == app["image"]
    assert migrate["build"] == app["build"] == {"context": "."}


def test_app_reaches_the_db_service_with_the_configured_credentials(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["app"]["environment"]
    assert env["GEO_SERVICE_DATABASE_URL"] == (
        "postgresql://quartierskarte:0123456789abcdef@db:5432/quartierskarte"
    )
    assert compose["services"]["migrate"]["environment"]["GEO_SERVICE_DATABASE_URL"] == (
        env["GEO_SERVICE_DATABASE_URL"]
    )
    # the app must trust the proxy's X-Forwarded-Proto/-Host (it publishes no port itself)
    assert env["GEO_SERVICE_TRUSTED_PROXIES"] == "*"


def test_app_settings_in_compose_and_dockerfile_exist() -> None:
    fields = {f"GEO_SERVICE_{name.upper()}" for name in Settings.model_fields}
    used = set(re.findall(r"\bGEO_SERVICE_[A-Z_]+\b", compose_text()))
    used |= {
        token.split("=", 1)[0]
        for keyword, rest in dockerfile_instructions()
        if keyword == "ENV"
        for token in shlex.split(rest)
        if token.startswith("GEO_SERVICE_")
    }
    assert used and used <= fields, f"unknown settings: {sorted(used - fields)}"


def test_every_compose_variable_is_in_env_example() -> None:
    text = unescaped(compose_text())
    used = {m["name"] for m in BRACED.finditer(text)}
    documented = set(env_example())
    assert used - documented == set(), "add these to .env.example"
    assert documented - used == set(), "documented in .env.example but unused"
    # Compose interpolates $NAME and rejects any other single "$": scripts must write "$$".
    assert "$" not in BRACED.sub("", text)


def test_env_example_comments_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert i > 0 and lines[i - 1].startswith("#"), f"no comment above {line!r}"


def test_database_password_has_no_default() -> None:
    matches = BRACED.finditer(unescaped(compose_text()))
    uses = [m for m in matches if m["name"] == "POSTGRES_PASSWORD"]
    assert uses
    assert all(m["op"] == ":?" for m in uses)
    assert env_example()["POSTGRES_PASSWORD"] == ""
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        resolved(POSTGRES_PASSWORD="")


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"
    db_mounts = compose["services"]["db"]["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in db_mounts
    assert any(v.startswith("caddy_data:/data") for v in compose["services"]["proxy"]["volumes"])


def test_backup_dumps_nightly_in_custom_format(compose: dict[str, Any]) -> None:
    backup = compose["services"]["backup"]
    script = command_text(backup)
    assert "pg_dump --format=custom" in script
    assert "sleep" in script and "tomorrow" in script
    assert "./backups:/backups" in backup["volumes"]
    assert backup["environment"]["PGHOST"] == "db"
    assert backup["image"] == compose["services"]["db"]["image"]  # pg_dump of the server's major


def test_proxy_mounts_the_caddyfile(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["environment"]["QK_DOMAIN"] == "localhost"
    assert proxy["image"].startswith("caddy:2")


# -- deploy/Caddyfile ---------------------------------------------------------------
def test_caddyfile_serves_the_domain_and_balances_the_replicas() -> None:
    text = CADDYFILE.read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert re.search(r"^\{\$QK_DOMAIN:localhost\}\s*\{", code, re.M)
    assert "reverse_proxy" in code
    assert re.search(r"dynamic a \{\s*name app\s*port 8000", code)
    assert "lb_policy round_robin" in code
    # Each QK_TLS value has its snippet; the .env.example default is one of them.
    snippets = set(re.findall(r"^\(tls_(\w+)\)", code, re.M))
    assert {"auto", "internal"} <= snippets
    assert env_example()["QK_TLS"] in snippets
    assert "import tls_{$QK_TLS:auto}" in code
    assert code.count("{") == code.count("}")


# -- Dockerfile and .dockerignore ---------------------------------------------------
def test_dockerfile_base_and_command() -> None:
    instructions = dockerfile_instructions()
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "python:3.11-slim-bookworm" in text
    assert [rest for kw, rest in instructions if kw == "CMD"][-1] == (
        '["geo-service", "serve", "--host", "0.0.0.0"]'
    )
    assert any(kw == "EXPOSE" and rest == "8000" for kw, rest in instructions)


def test_dockerfile_healthcheck_asks_healthz() -> None:
    checks = [rest for kw, rest in dockerfile_instructions() if kw == "HEALTHCHECK"]
    assert len(checks) == 1 and "/healthz" in checks[0] and " CMD " in f" {checks[0]}"


def test_dockerfile_runs_as_non_root() -> None:
    users = [rest for kw, rest in dockerfile_instructions() if kw == "USER"]
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_keeps_the_repository_layout_in_app() -> None:
    instructions = dockerfile_instructions()
    assert ("WORKDIR", "/app") in instructions
    copies = [rest for kw, rest in instructions if kw == "COPY" and "--from" not in rest]
    copied = {source for rest in copies for source in shlex.split(rest)[:-1]}
    for folder in ("geo_service", "migrations", "layers", "data"):
        assert folder in copied, f"{folder}/ is not copied into the image"
        assert any(rest.endswith(f"./{folder}") for rest in copies)
    # Editable install: engine.py finds parents[2]/"migrations", demo.py parents[1]/"data".
    assert any(kw == "RUN" and "pip install" in rest and " -e ." in rest
               for kw, rest in instructions)


def test_everything_the_dockerfile_copies_exists_and_is_not_ignored() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    excluded = [p for p in patterns if not p.startswith("!")]
    for keyword, rest in dockerfile_instructions():
        if keyword != "COPY" or "--from" in rest:
            continue
        for source in shlex.split(rest)[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: missing in the repository"
            hit = [p for p in excluded if fnmatch.fnmatch(source, p.rstrip("/"))]
            assert not hit, f"COPY {source} is excluded by .dockerignore {hit}"


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = set(DOCKERIGNORE.read_text(encoding="utf-8").splitlines())
    assert {".env", ".git", ".venv", ".data", "backups"} <= patterns


# -- internal endpoints (issue 10A) ----------------------------------------------------
def test_metrics_are_scraped_on_the_internal_port_never_through_the_proxy(
    compose: dict[str, Any],
) -> None:
    app = compose["services"]["app"]
    port = app["environment"]["GEO_SERVICE_METRICS_PORT"]
    assert app["environment"]["GEO_SERVICE_METRICS_HOST"] == "0.0.0.0"
    assert port in [str(p) for p in app["expose"]] and "ports" not in app
    scrape = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text(encoding="utf-8"))
    target = scrape["scrape_configs"][0]["dns_sd_configs"][0]
    assert target["names"] == ["app"] and str(target["port"]) == port
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in (
        compose["services"]["prometheus"]["volumes"])
    caddy = "\n".join(line.split("#", 1)[0] for line in CADDYFILE.read_text().splitlines())
    assert port not in caddy and "metrics" not in caddy
