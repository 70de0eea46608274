"""Long work as jobs: each runs in a process of its own, its state a row in PostgreSQL."""
