"""Tests mirror the geo_service package."""
