"""Benchmarks of Quartierskarte against its own private PostGIS: data, service, timings, plans."""
