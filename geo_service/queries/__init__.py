"""Filters to SQL: every statement the service runs, GeoJSON built in PostgreSQL."""
