"""Issue 5: "a 20,000-char text plays through with 0 underruns".

The real playback path, in this process so its counters can be read: ReadAloudSession (chunking and the
fetch-ahead) → the REST speech provider (httpx, a real socket) → the fake OpenAI server in its own process
(espeak-ng) → the real Player (sounddevice ring buffer) → PulseAudio's sink "speaker", whose monitor is
recorded.

Time: at normal speed 20,000 characters take ~20 minutes, so the fake server renders speech at 3,600 words a
minute (tts.set_speech_rate; espeak-ng's sonic speed-up keeps it speech) and the text plays in about a
minute. That makes the test harder, not easier: every chunk lasts ~20× shorter than at speed 1, while the
server still renders each chunk before its first byte (its time to first byte grows with the chunk), so the
next chunk must be asked for while the current one plays or the player runs dry. The second test shows the
instruments catch exactly that: the same pipeline asking for each chunk only after the previous one played
yields underruns and gaps at the speaker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from desktop_app.audio.playback import Player
from desktop_app.core.cancel import CancelToken
from desktop_app.core.models import SAMPLE_RATE, SAMPLE_WIDTH, ApiConfig, SpeechChunk, SpeechOptions
from desktop_app.core.ports import Synthesizer
from desktop_app.providers.openai_tts import OpenAISpeech
from desktop_app.services.read_aloud import ReadAloudSession, ReadOutcome
from desktop_app.services.read_text import PreparedText
from tests.fakeopenai import FakeOpenAIProcess
from tests.support.desktop import require_desktop, wait_for
from tests.support.speaker import SpeakerMonitor

pytestmark = [pytest.mark.desktop, pytest.mark.slow, pytest.mark.timeout(300)]

WORDS_PER_MINUTE = 3600
OPTIONS = SpeechOptions(model="gpt-4o-mini-tts", voice="marin", speed=1.0)
SILENCE = 0.003  # peak amplitude below which a 10 ms frame counts as silent
FRAME_S = 0.01
# A gap at the speaker longer than the longest pause the server's own audio has, by more than this, is a
# hole in playback (a chunk boundary that was not bridged).
GAP_SLACK_S = 0.06

_TOPICS = ["a garden where tomatoes and beans grow tall", "a river that runs past the old mill",
           "a market where farmers sell apples and honey", "a library full of maps and old letters",
           "a harbour where small boats wait for the tide", "a school where children learn to paint"]


def long_text(chars: int) -> str:
    """Numbered, varied sentences, cut at a sentence end at or after ``chars`` characters."""
    sentences, length, n = [], 0, 0
    while length < chars:
        n += 1
        sentence = f"Paragraph {n} tells a calm story about {_TOPICS[n % len(_TOPICS)]}."
        sentences.append(sentence)
        length += len(sentence) + 1
    return " ".join(sentences)


class CountingSynthesizer:
    """Delegates to the real provider and keeps a copy of every PCM piece it hands on (what the server
    sent), so the test can compare it with what was played and heard."""

    def __init__(self, inner: Synthesizer) -> None:
        self.inner = inner
        self.pieces: list[bytes] = []
        self.rates: set[int] = set()
        self.requests = 0

    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions, on_audio: Callable[[bytes, int], None],
                   cancel: CancelToken) -> None:
        self.requests += 1

        def keep(pcm: bytes, rate: int) -> None:
            self.pieces.append(pcm)
            self.rates.add(rate)
            on_audio(pcm, rate)

        self.inner.synthesize(chunk, options, keep, cancel)

    @property
    def seconds(self) -> float:
        return sum(len(p) for p in self.pieces) / (SAMPLE_WIDTH * SAMPLE_RATE)

    def samples(self) -> np.ndarray:
        return np.frombuffer(b"".join(self.pieces), dtype="<i2").astype(np.float32) / 32768.0


class AskAfterPlayed(CountingSynthesizer):
    """The broken pipeline the first test must catch: each chunk is asked for only once everything before
    it has played (no fetch overlapping playback)."""

    def __init__(self, inner: Synthesizer, player: Player) -> None:
        super().__init__(inner)
        self.player = player
        self.played_at_start = player.played_seconds

    def synthesize(self, chunk: SpeechChunk, options: SpeechOptions, on_audio: Callable[[bytes, int], None],
                   cancel: CancelToken) -> None:
        if self.pieces:
            assert self.player.wait_played(self.played_at_start + self.seconds, timeout=60)
        super().synthesize(chunk, options, on_audio, cancel)


@dataclass
class Played:
    outcome: ReadOutcome
    sent: CountingSynthesizer
    underruns: int
    played_frames: int
    heard: np.ndarray  # the speaker monitor from just before the reading to after it


def silent_frames(samples: np.ndarray, rate: int) -> np.ndarray:
    size = int(FRAME_S * rate)
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    result: np.ndarray = np.abs(frames).max(axis=1) < SILENCE
    return result


def sound_span_s(samples: np.ndarray, rate: int) -> float:
    """Seconds from the first to the last sound."""
    loud = np.flatnonzero(~silent_frames(samples, rate))
    return float((loud[-1] - loud[0] + 1) * FRAME_S) if len(loud) else 0.0


def longest_gap_s(samples: np.ndarray, rate: int) -> float:
    """The longest silence between the first and the last sound."""
    silent = silent_frames(samples, rate)
    loud = np.flatnonzero(~silent)
    if len(loud) < 2:
        return 0.0
    longest = run = 0
    for is_silent in silent[loud[0]:loud[-1]]:
        run = run + 1 if is_silent else 0
        longest = max(longest, run)
    return longest * FRAME_S


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIProcess]:
    require_desktop()
    with FakeOpenAIProcess() as server:  # its own process: espeak and the event loop stay off our GIL
        server.set_speech_rate(WORDS_PER_MINUTE)
        yield server


@pytest.fixture(scope="module")
def player() -> Iterator[Player]:
    require_desktop()
    opened = Player()  # as the app opens it: default buffer, the default output (the sink "speaker")
    opened.open("")
    assert opened.wait_ready(10), "the PulseAudio output did not start"
    yield opened
    opened.close()


def play_through(text: str, fake: FakeOpenAIProcess, player: Player, speaker: SpeakerMonitor,
                 make: Callable[[Synthesizer], CountingSynthesizer]) -> Played:
    provider = OpenAISpeech(ApiConfig(fake.base_url, api_key=fake.api_key, timeout_s=60.0))
    synthesizer = make(provider)
    underruns, played = player.underruns, player.played_frames
    start = speaker.now()
    result: list[ReadOutcome] = []
    try:
        # On a thread, as the app runs it, so a hang fails through the join timeout rather than blocking.
        worker = threading.Thread(target=lambda: result.append(
            ReadAloudSession(text, synthesizer, player, OPTIONS).run(CancelToken())), daemon=True)
        worker.start()
        worker.join(240)
        assert result, "the reading did not end within 240 s"
    finally:
        provider.close()
    tail_recorded = speaker.now() + int(0.5 * speaker.RATE)  # the device's latency: let the tail arrive
    wait_for(lambda: speaker.now() >= tail_recorded, 5, "the end of the reading at the speaker monitor")
    return Played(result[0], synthesizer, player.underruns - underruns, player.played_frames - played,
                  speaker.samples()[start:])


def test_twenty_thousand_characters_play_through_without_underruns(
        fake: FakeOpenAIProcess, player: Player, speaker: SpeakerMonitor) -> None:
    text = long_text(20_000)
    assert len(text) >= 20_000
    chunks = len(list(PreparedText(text).chunks()))
    run = play_through(text, fake, player, speaker, CountingSynthesizer)

    outcome, sent = run.outcome, run.sent
    print(f"{len(text)} chars, {chunks} chunks, {sent.seconds:.1f} s of speech; player: {run.underruns} "
          f"underruns, {player.xruns} device underflows; longest gap at the speaker "
          f"{longest_gap_s(run.heard, speaker.RATE):.3f} s (in the server's audio "
          f"{longest_gap_s(sent.samples(), SAMPLE_RATE):.3f} s)")
    assert outcome.finished and outcome.error is None, outcome
    assert outcome.chunks == chunks == sent.requests and chunks >= 8
    assert run.underruns == 0 and outcome.underruns == 0
    # Every frame the server sent was played, no more and no less.
    assert sent.rates == {SAMPLE_RATE}
    expected = round(sent.seconds * player.stream_rate)
    resampled_slack = 0 if player.stream_rate == SAMPLE_RATE else player.stream_rate // 100  # filter tail
    assert abs(run.played_frames - expected) <= resampled_slack, (run.played_frames, expected)
    # …and reached the speaker as one continuous stream: as long as what was sent, with no hole in it.
    heard_s, sent_s = sound_span_s(run.heard, speaker.RATE), sound_span_s(sent.samples(), SAMPLE_RATE)
    assert abs(heard_s - sent_s) < 0.1, (heard_s, sent_s)
    assert longest_gap_s(run.heard, speaker.RATE) < longest_gap_s(sent.samples(), SAMPLE_RATE) + GAP_SLACK_S


def test_asking_for_a_chunk_only_after_the_previous_one_played_is_caught(
        fake: FakeOpenAIProcess, player: Player, speaker: SpeakerMonitor) -> None:
    """The instruments above can fail: without the fetch overlapping playback, the same run shows
    underruns, and holes at the speaker."""
    text = long_text(4_500)  # five chunks: four boundaries
    run = play_through(text, fake, player, speaker, lambda inner: AskAfterPlayed(inner, player))

    sent = run.sent.samples()
    print(f"asking after played: {run.underruns} underruns; sound {sound_span_s(run.heard, speaker.RATE):.2f} s "
          f"at the speaker for {sound_span_s(sent, SAMPLE_RATE):.2f} s sent; longest gap "
          f"{longest_gap_s(run.heard, speaker.RATE):.3f} s")
    assert run.outcome.finished and run.outcome.error is None
    assert run.underruns > 0 and run.outcome.underruns > 0
    assert sound_span_s(run.heard, speaker.RATE) > sound_span_s(sent, SAMPLE_RATE) + 0.1
    assert longest_gap_s(run.heard, speaker.RATE) > longest_gap_s(sent, SAMPLE_RATE) + GAP_SLACK_S
