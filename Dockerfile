# syntax=docker/dockerfile:1
# Quartierskarte service image: the package installed editable from /app, so that
# migrations/, layers/ and data/ sit where the code looks for them (next to geo_service/).
# GDAL comes inside pyogrio's wheel; no system GDAL is needed.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: a virtual environment with the dependencies and the package -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change reuses this layer.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install --upgrade pip setuptools wheel \
    && pip install -r /tmp/requirements.txt

# The package itself, editable: the venv points at /app/geo_service, the same path as below.
COPY geo_service ./geo_service
RUN pip install --no-deps --no-build-isolation -e . && python -m compileall -q /app/geo_service

# -- runtime ------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="Quartierskarte" \
      org.opencontainers.image.description="Meeting places, offers and projects of neighbourhood work in Lower Saxony (geo_service)" \
      org.opencontainers.image.licenses="MIT"

# postgresql-client: pg_dump/pg_restore for backups run from the app image (same major as the
# db service's PostgreSQL 15). Nothing else from Debian is needed at run time.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged user; the code in /app stays owned by root and read-only to it.
RUN groupadd --system --gid 10001 geo \
    && useradd --system --uid 10001 --gid geo --home-dir /home/geo --create-home \
       --shell /usr/sbin/nologin geo

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GEO_SERVICE_HOST=0.0.0.0 \
    GEO_SERVICE_PORT=8000 \
    GEO_SERVICE_LAYERS_DIR=/app/layers \
    GEO_SERVICE_DATA_DIR=/home/geo/.data

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# Read at run time through paths relative to the package (engine.py: parents[2] / "migrations",
# demo.py: parents[1] / "data") or to the working directory (layers/).
COPY alembic.ini ./
COPY migrations ./migrations
COPY layers ./layers
COPY data ./data
RUN python -m compileall -q /app/migrations

USER geo:geo
EXPOSE 8000
# The internal metrics listener (only where GEO_SERVICE_METRICS_HOST opens it beyond loopback).
EXPOSE 9101

# /healthz answers 200 only when the database is reachable; urlopen raises on anything else.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GEO_SERVICE_PORT', '8000'), timeout=4)" || exit 1

CMD ["geo-service", "serve", "--host", "0.0.0.0"]
