"""Adapters built the same way by the GUI and the standalone CLI commands."""

from __future__ import annotations

import os
from typing import Any

from desktop_app.services.credentials import Credentials
from desktop_app.storage.profile import Profile


def build_credentials(profile: Profile | None = None) -> Credentials:
    from desktop_app.storage.secret_store import KeyringSecretStore, account_for

    return Credentials(KeyringSecretStore(), os.environ, account_for)


def connection_tester() -> Any:
    def run(config: Any) -> tuple[bool, str]:
        from desktop_app.providers.models_check import test_connection

        report = test_connection(config)
        return report.ok, report.message

    return run
