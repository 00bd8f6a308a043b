"""Numbered SQL migrations (package data) and the runner that applies them."""

from duckspool.migrations._runner import (
    AppliedMigration,
    Migration,
    applied,
    available,
    migrate,
    pending,
)

__all__ = ["AppliedMigration", "Migration", "applied", "available", "migrate", "pending"]
