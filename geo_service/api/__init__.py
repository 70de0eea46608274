"""HTTP interface: the FastAPI application and its routes."""
