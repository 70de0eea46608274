"""ASGI entry point for multi-worker and container deployments: ``geo_service.api.asgi:app``."""

from geo_service.api.app import create_app

app = create_app()
