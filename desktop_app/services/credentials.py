"""Where the API key comes from: OPENAI_API_KEY for this process, else the keyring entry for the API host.

The key is only ever held in memory; status reports show it masked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from desktop_app.core.errors import SecretStoreUnavailable
from desktop_app.core.models import ApiConfig
from desktop_app.core.ports import SecretStore
from desktop_app.core.redact import mask, register_secret
from desktop_app.core.settings import Settings

ENV_KEY = "OPENAI_API_KEY"
ENV_BASE_URL = "OPENAI_BASE_URL"


@dataclass(frozen=True)
class KeyStatus:
    source: str  # "env", "keyring", "none" or "unavailable"
    masked: str
    account: str
    message: str

    @property
    def has_key(self) -> bool:
        return self.source in ("env", "keyring")


class Credentials:
    def __init__(self, store: SecretStore, env: Mapping[str, str],
                 account_for: Callable[[str], str]) -> None:
        self._store = store
        self._env = env
        self._account_for = account_for
        env_key = env.get(ENV_KEY, "")
        if env_key:
            register_secret(env_key)

    def base_url(self, settings: Settings) -> str:
        return (self._env.get(ENV_BASE_URL) or settings.api.base_url).strip()

    def api_config(self, settings: Settings) -> ApiConfig:
        """The config for a request. Raises SecretStoreUnavailable only if the keyring is the sole source."""
        base_url = self.base_url(settings)
        key = self._env.get(ENV_KEY, "") or (self._store.get(self._account_for(base_url)) or "")
        return ApiConfig(base_url=base_url, api_key=key, organization=settings.api.organization,
                         project=settings.api.project, timeout_s=settings.api.timeout_s)

    def status(self, settings: Settings) -> KeyStatus:
        base_url = self.base_url(settings)
        account = self._account_for(base_url)
        env_key = self._env.get(ENV_KEY, "")
        if env_key:
            return KeyStatus("env", mask(env_key), account,
                             f"Using the key from the {ENV_KEY} environment variable ({mask(env_key)}); "
                             "it is not stored.")
        try:
            stored = self._store.get(account)
        except SecretStoreUnavailable as exc:
            return KeyStatus("unavailable", "", account, exc.full_message())
        if stored:
            return KeyStatus("keyring", mask(stored), account,
                             f"Using the key stored in the system keyring for {account} ({mask(stored)}).")
        return KeyStatus("none", "", account,
                         f"No API key is set for {account}. Set one with `sayso key set` or in Settings, "
                         f"or export {ENV_KEY}.")

    def set_key(self, settings: Settings, key: str) -> str:
        key = key.strip()
        if not key:
            raise ValueError("The API key is empty.")
        if any(ch.isspace() for ch in key):
            raise ValueError("The API key contains spaces or line breaks; paste only the key.")
        register_secret(key)
        account = self._account_for(self.base_url(settings))
        self._store.set(account, key)
        return account

    def clear_key(self, settings: Settings) -> bool:
        return self._store.delete(self._account_for(self.base_url(settings)))

    def backend_name(self) -> str:
        return self._store.backend_name()
