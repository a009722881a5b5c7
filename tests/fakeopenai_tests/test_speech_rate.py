"""The fast-speech switch (set_speech_rate) for long-text playback tests, in-process and in a child process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.fakeopenai import FakeOpenAI, FakeOpenAIProcess

TEXT = "The garden behind the old mill grows tomatoes, beans and tall yellow sunflowers every summer."


def seconds_of_speech(base_url: str, api_key: str, speed: float = 1.0) -> float:
    body = {"model": "gpt-4o-mini-tts", "input": TEXT, "voice": "coral", "response_format": "pcm",
            "speed": speed}
    response = httpx.post(f"{base_url}/audio/speech", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {api_key}"})
    response.raise_for_status()
    samples = np.frombuffer(response.content, dtype="<i2")
    assert np.abs(samples).max() > 3000  # still speech, not silence
    return len(samples) / 24_000


@pytest.fixture
def fast_in_process(srv: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield srv
    srv.set_speech_rate(None)


def test_a_fast_rate_shortens_the_speech_and_still_honours_speed(fast_in_process: FakeOpenAI) -> None:
    srv = fast_in_process
    normal = seconds_of_speech(srv.base_url, srv.api_key)
    capped = seconds_of_speech(srv.base_url, srv.api_key, speed=4.0)  # the default mapping stops at 450 wpm
    srv.set_speech_rate(3500)  # 20 × 175
    fast = seconds_of_speech(srv.base_url, srv.api_key)
    faster = seconds_of_speech(srv.base_url, srv.api_key, speed=2.0)
    srv.set_speech_rate(None)
    again = seconds_of_speech(srv.base_url, srv.api_key)

    assert normal / 30 < fast < normal / 8, (normal, fast)  # far beyond what speed=4 allows
    assert fast < capped / 4
    assert faster < fast * 0.75
    assert again == pytest.approx(normal)


def test_out_of_range_rates_are_refused(fast_in_process: FakeOpenAI) -> None:
    for rate in (10, 50_000):
        with pytest.raises(ValueError, match="words_per_minute"):
            fast_in_process.set_speech_rate(rate)


def test_the_child_process_takes_the_rate_through_the_admin_api() -> None:
    with FakeOpenAIProcess() as child:
        normal = seconds_of_speech(child.base_url, child.api_key)
        child.set_speech_rate(3500)
        assert child.admin.get("/_admin/speech_rate").json() == {"words_per_minute": 3500}
        fast = seconds_of_speech(child.base_url, child.api_key)
        refused = child.admin.put("/_admin/speech_rate", json={"words_per_minute": 5})
        assert refused.status_code == 400 and "words_per_minute" in refused.json()["error"]
    assert normal / 30 < fast < normal / 8, (normal, fast)
