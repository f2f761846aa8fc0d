"""Storage: engine, sessions, the declarative base and the Alembic migration chain."""
