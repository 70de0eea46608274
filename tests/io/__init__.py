"""Tests of geo_service.io: reading, importing and exporting GIS files against a real PostGIS."""
