"""Where the key comes from, and what the user is told — against an in-memory keyring port."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import SecretStoreUnavailable
from desktop_app.core.settings import Settings
from desktop_app.services.credentials import Credentials
from desktop_app.storage.secret_store import account_for


class MemoryStore:
    def __init__(self, broken: bool = False) -> None:
        self.data: dict[str, str] = {}
        self.broken = broken

    def backend_name(self) -> str:
        return "memory"

    def get(self, account: str) -> str | None:
        if self.broken:
            raise SecretStoreUnavailable(hint="Start or unlock your desktop's keyring")
        return self.data.get(account)

    def set(self, account: str, secret: str) -> None:
        if self.broken:
            raise SecretStoreUnavailable()
        self.data[account] = secret

    def delete(self, account: str) -> bool:
        return self.data.pop(account, None) is not None


def test_one_entry_per_api_host() -> None:
    assert account_for("https://api.openai.com/v1") == "api.openai.com"
    assert account_for("http://127.0.0.1:8080/v1") == "127.0.0.1:8080"


def test_environment_key_wins_and_is_never_stored() -> None:
    store = MemoryStore()
    creds = Credentials(store, {"OPENAI_API_KEY": "sk-env-1234567890"}, account_for)
    status = creds.status(Settings())
    assert status.source == "env"
    assert "sk-env-1234567890" not in status.message
    assert creds.api_config(Settings()).api_key == "sk-env-1234567890"
    assert store.data == {}


def test_keyring_key_for_the_configured_host() -> None:
    store = MemoryStore()
    creds = Credentials(store, {}, account_for)
    settings = Settings()
    settings.set("api.base_url", "http://localhost:9000/v1")
    creds.set_key(settings, "  sk-stored-abcdefgh1234 \n")
    assert store.data == {"localhost:9000": "sk-stored-abcdefgh1234"}
    status = creds.status(settings)
    assert status.source == "keyring" and status.masked == "sk-…1234"
    assert creds.api_config(Settings()).api_key == ""  # another host has no key


def test_base_url_from_environment() -> None:
    creds = Credentials(MemoryStore(), {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, account_for)
    assert creds.api_config(Settings()).base_url == "http://127.0.0.1:1/v1"


def test_unusable_keyring_is_reported_with_the_fix() -> None:
    creds = Credentials(MemoryStore(broken=True), {}, account_for)
    status = creds.status(Settings())
    assert status.source == "unavailable"
    assert "keyring" in status.message.lower()


@pytest.mark.parametrize("bad", ["", "   ", "sk-abc def"])
def test_bad_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Credentials(MemoryStore(), {}, account_for).set_key(Settings(), bad)
