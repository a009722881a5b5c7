"""The API key in the OS keyring (service ``sayso``, one entry per API host). Never a plaintext fallback."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import keyring
import keyring.backend
import keyring.errors

from desktop_app.core.errors import SecretStoreUnavailable
from desktop_app.core.redact import register_secret

log = logging.getLogger(__name__)

SERVICE = "sayso"

FIX_HINT = (
    "Start or unlock your desktop's keyring (GNOME Keyring / KWallet, a Secret Service provider), "
    "or set the OPENAI_API_KEY environment variable for Sayso instead."
)


def account_for(base_url: str) -> str:
    """One keyring entry per API host, so a compatible server and OpenAI keep separate keys."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def _unusable(backend: keyring.backend.KeyringBackend) -> bool:
    # keyring's "fail" backend (no provider at all) and "null" backends have priority ≤ 0.
    name = type(backend).__module__ + "." + type(backend).__name__
    return "fail" in name.lower() or "null" in name.lower() or backend.priority <= 0


class KeyringSecretStore:
    def __init__(self, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._backend = backend

    def _get_backend(self) -> keyring.backend.KeyringBackend:
        backend = self._backend or keyring.get_keyring()
        if _unusable(backend):
            raise SecretStoreUnavailable(
                "No usable keyring (Secret Service) was found, so the API key cannot be stored safely.",
                hint=FIX_HINT, detail=f"backend: {type(backend).__name__}")
        return backend

    def backend_name(self) -> str:
        backend = self._backend or keyring.get_keyring()
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def get(self, account: str) -> str | None:
        value = self._call("read the API key from", lambda b: b.get_password(SERVICE, account))
        if value:
            register_secret(value)
        return value

    def set(self, account: str, secret: str) -> None:
        register_secret(secret)
        self._call("store the API key in", lambda b: b.set_password(SERVICE, account, secret))

    def delete(self, account: str) -> bool:
        def _delete(backend: keyring.backend.KeyringBackend) -> bool:
            try:
                backend.delete_password(SERVICE, account)
            except keyring.errors.PasswordDeleteError:
                return False
            return True

        return bool(self._call("remove the API key from", _delete))

    def _call(self, what: str, action):  # type: ignore[no-untyped-def]
        backend = self._get_backend()
        try:
            return action(backend)
        except keyring.errors.KeyringLocked as exc:
            raise SecretStoreUnavailable(
                f"Could not {what} the keyring: the keyring is locked.", hint=FIX_HINT,
                detail=type(exc).__name__) from None
        except keyring.errors.NoKeyringError as exc:
            raise SecretStoreUnavailable(hint=FIX_HINT, detail=type(exc).__name__) from None
        except (keyring.errors.KeyringError, OSError, RuntimeError) as exc:
            # Secret Service/D-Bus failures surface as KeyringError subclasses or D-Bus RuntimeErrors;
            # the exception text never contains the secret, but we still keep only its type.
            log.warning("Keyring %s failed: %s", type(backend).__name__, type(exc).__name__)
            raise SecretStoreUnavailable(
                f"Could not {what} the keyring ({type(exc).__name__}).", hint=FIX_HINT,
                detail=type(exc).__name__) from None
