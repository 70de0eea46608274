"""Database access: engines, models, the embedded cluster and migrations."""
