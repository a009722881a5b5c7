"""Live typing for ``insert.method = "type"``: the words go into the target while the transcript streams
in, and the final text is made exact with the fewest BackSpaces.

``LiveTyper.typed`` is exactly what Sayso has put into the target so far. Each wanted text — the cleaned
live text after every delta, then the final — is reached from it by erasing back to the longest common
prefix and typing the rest. Only characters Sayso typed itself are ever erased: whatever the user had in
the field before stays untouched.

Focus: the first keys may give the focus back to the target (as a final ``insert`` would); after that a
delta never steals the focus — while the user is in another window nothing is typed (typing resumes if
they come back), and the final text brings the target back and finishes there, as the one-shot insert
does today.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from desktop_app.core.errors import SaysoError
from desktop_app.core.ports import TypingSession
from desktop_app.core.transcript_text import clean_transcript

log = logging.getLogger(__name__)


def common_prefix_length(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


class LiveTyper:
    """One dictation's live typing. Used from one thread (the worker reading the transcript stream)."""

    def __init__(self, start: Callable[[], TypingSession | None], *, stopped: Callable[[], bool],
                 replacements: Sequence[tuple[str, str]] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self._start = start
        self._stopped = stopped  # cancelled: not one more key
        self._replacements = tuple(replacements)
        self._clock = clock
        self._session: TypingSession | None = None
        self._started = False
        self.typed = ""
        self.gave_up = False  # the target could not be given the focus for the first keys: final text only
        self._broken = False  # keys failed half-way: what the target holds is unknown, so no more keys
        self.first_keys_at: float | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped()

    @property
    def touched_target(self) -> bool:
        """Keys were sent: the final text must be finished here, not inserted again in one piece."""
        return self.first_keys_at is not None

    def show(self, live_text: str) -> None:
        """A delta arrived: bring the target up to the cleaned live text (the preview the user sees)."""
        if self.gave_up or self._broken or self._stopped():
            return
        wanted = clean_transcript(live_text, replacements=self._replacements)
        if wanted == self.typed:
            return
        first = not self.touched_target
        if not self._reach(wanted, refocus=first) and first:
            self.gave_up = True  # activating on every delta would stall the stream (and fight the user)

    def finish(self, final_text: str) -> bool:
        """Make the target hold exactly ``final_text`` after the user's own text. False when that could not
        be done (the window is gone or refuses the focus, or the job was cancelled)."""
        if self._broken or self._stopped():
            return False
        if final_text == self.typed:
            return True
        return self._reach(final_text, refocus=True)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _reach(self, wanted: str, *, refocus: bool) -> bool:
        session = self._session_now()
        if session is None:
            return False
        keep = common_prefix_length(self.typed, wanted)
        extra = len(self.typed) - keep
        try:
            if extra:
                if not session.erase(extra, refocus=refocus):
                    return False
                self._sent()
                self.typed = self.typed[:keep]
                refocus = False  # the target has the focus now
            if self._stopped():
                return False
            rest = wanted[keep:]
            if rest:
                if not session.type(rest, refocus=refocus):
                    return False
                self._sent()
                self.typed = wanted
        except Exception as exc:  # the OS refused keys (X error, no spare keycode…): never lose the dictation
            log.warning("Live typing stopped: %s", exc, exc_info=not isinstance(exc, SaysoError))
            self._broken = True
            self._sent()  # some keys may have gone: the service must not insert the whole text again
            return False
        return True

    def _session_now(self) -> TypingSession | None:
        if not self._started:
            self._started = True
            try:
                self._session = self._start()
            except SaysoError as exc:
                log.info("No live typing: %s", exc.user_message)
        return self._session

    def _sent(self) -> None:
        if self.first_keys_at is None:
            self.first_keys_at = self._clock()
