"""Errors a user can meet, each carrying the sentence we show them.

Every adapter translates its library's exceptions into one of these, so services and the UI deal with a
small closed set. ``user_message`` is what the UI and CLI print; it never contains the API key.
"""

from __future__ import annotations


class SaysoError(Exception):
    """Base class: ``user_message`` is shown verbatim; ``hint`` says what to do next."""

    default_message = "Something went wrong."

    def __init__(self, user_message: str | None = None, *, hint: str = "", detail: str = "") -> None:
        self.user_message = user_message or self.default_message
        self.hint = hint
        self.detail = detail
        super().__init__(self.user_message)

    def full_message(self) -> str:
        return f"{self.user_message} {self.hint}".strip()


class AuthError(SaysoError):
    default_message = "The API key was rejected (401)."


class PermissionDenied(SaysoError):
    default_message = "The server refused the request (403)."


class RateLimited(SaysoError):
    default_message = "Rate limit reached: the server asked us to slow down."

    def __init__(self, user_message: str | None = None, *, retry_after: float | None = None,
                 quota: bool = False, hint: str = "", detail: str = "") -> None:
        super().__init__(user_message, hint=hint, detail=detail)
        self.retry_after = retry_after
        self.quota = quota


class ModelRetired(SaysoError):
    default_message = "The model does not exist on this server, or it has been retired."

    def __init__(self, user_message: str | None = None, *, model: str = "", alternative: str = "",
                 hint: str = "", detail: str = "") -> None:
        super().__init__(user_message, hint=hint, detail=detail)
        self.model = model
        self.alternative = alternative


class RequestTooLarge(SaysoError):
    default_message = "The upload is larger than the server accepts (413)."


class BadRequest(SaysoError):
    default_message = "The server did not accept the request (400)."


class ServerError(SaysoError):
    default_message = "The server had an error."


class NetworkError(SaysoError):
    default_message = "Could not reach the server. Check your internet connection."


class TimeoutError_(NetworkError):
    default_message = "The server did not answer in time."


class TLSError(NetworkError):
    default_message = "The secure connection to the server failed (TLS certificate problem)."


class RealtimeUnavailable(NetworkError):
    """The Realtime WebSocket cannot be used here (blocked by a proxy, or a compatible server without
    ``/realtime``): callers fall back to REST and say so once."""

    default_message = "The realtime (WebSocket) connection is not available on this server."


class AudioDeviceError(SaysoError):
    default_message = "The audio device is not available."


class NoSpeech(SaysoError):
    default_message = "No speech heard."


class SecretStoreUnavailable(SaysoError):
    default_message = "No usable keyring (Secret Service) was found, so the API key cannot be stored safely."


class NoApiKey(SaysoError):
    default_message = "No API key is set."


class SettingsError(SaysoError):
    default_message = "Invalid setting."


class InstanceNotRunning(SaysoError):
    default_message = "Sayso is not running."


class PlatformUnsupported(SaysoError):
    default_message = "This is not supported on this desktop."


class Cancelled(SaysoError):
    default_message = "Cancelled."
