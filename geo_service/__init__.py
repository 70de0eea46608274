"""Quartierskarte: neighbourhood meeting places, offers and projects as maps and OGC API - Features."""

__version__ = "0.1.0"
