"""The Django app: connects the auth signals when Django starts."""

from __future__ import annotations

from django.apps import AppConfig


class DuckspoolConfig(AppConfig):  # type: ignore[misc]  # django ships no types
    name = "duckspool.integrations.django"
    label = "duckspool"
    verbose_name = "duckspool telemetry"

    def ready(self) -> None:
        from duckspool.integrations.django._signals import connect_auth_signals

        connect_auth_signals()
