"""Findings of an outside attack on the default speech-to-text path (branch atk-asr): audio
longer than one 30 s window, decoded in batched windows without timestamp tokens.

Each xfail test fails on the code it was written against (08d893f), for the reason it names.
Inputs are built here from the Kazakh interview clips that ship in tests/data/kk; decoding uses
the embedded Whisper base with the settings a user gets (an empty home folder). Where the
decoder's failure was seen only on audio that does not ship (evaluation clips, synthetic speech
too slow to decode in a test), a wrapper scripts that one decoding as it was seen and leaves
every other to the real engine, so that what the pipeline does with it is real.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pipeline import asr, config, media
from pipeline.engines.raw import RawSegment, RawWord
from pipeline.windows import SEGMENT_S, split_long

from builders import ffmpeg
from conftest import KK_CLIPS

pytestmark = pytest.mark.slow

SR = media.SAMPLE_RATE


def _clip(n: int, tmp_path) -> np.ndarray:
    wav = tmp_path / f"kk{n}.wav"
    if not wav.exists():
        media.extract_audio(KK_CLIPS / f"kzaudio_{n}.flac", wav)
    return media.load_wav(wav)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """The default engine and decoding options of a fresh home folder (no settings file)."""
    settings = config.load(tmp_path_factory.mktemp("home"))
    settings.ensure_dirs()
    engine, _, _, name = asr.load_engine(settings, language="kk")
    return engine, asr.decode_options(settings, asr.native_languages(settings, name))


@pytest.fixture(scope="module")
def long_pause(tmp_path_factory, user):
    """Three interview answers (27.4 s, the first batched window), then 3.5 s of a fourth,
    20 s of silence and 3.5 s of a fifth (55 s in all). The voice detector cuts the silence
    out, so the second window holds both short pieces, 9 s of speech once the silence is cut:
    one segment of at most 10 s there, which is never cut at pauses."""
    tmp = tmp_path_factory.mktemp("clips")
    pause, piece = _silence(0.4), int(3.5 * SR)
    parts = [_clip(17, tmp), pause, _clip(18, tmp), pause, _clip(19, tmp), _silence(0.6)]
    parts += [_clip(24, tmp)[:piece], _silence(20), _clip(20, tmp)[:piece]]
    audio = np.concatenate(parts)
    edges = np.cumsum([0, *map(len, parts)]) / SR
    engine, options = user
    return audio, (edges[-3], edges[-2]), asr.transcribe(engine, audio, "kk", options).segments


def test_no_word_is_timed_over_the_middle_of_a_long_silence(long_pause):
    _, (lo, hi), segments = long_pause
    over = [
        (w["text"], w["start"], w["end"])
        for s in segments
        for w in s.words
        if w["start"] < hi - 1.0 and w["end"] > lo + 1.0  # a second of slack either side
    ]
    assert not over, f"words timed over the silence {lo:.1f}-{hi:.1f} s: {over}"


def test_a_segment_longer_than_the_reviewers_unit_is_cut_or_flagged(long_pause):
    _, _, segments = long_pause
    unflagged = [
        (s.start, s.end, s.flags)
        for s in segments
        if s.end - s.start > SEGMENT_S and asr.REPETITION_FLAG not in s.flags
    ]
    assert not unflagged, f"segments over {SEGMENT_S} s, not flagged: {unflagged}"


def _word(start: float, end: float, n: int) -> RawWord:
    return RawWord(start=start, end=end, text=f"сөз{n}", probability=0.9)


def test_speech_without_pauses_is_not_cut_into_one_word_segments():
    """Found by the independent check: split_long cut the last word off again and again."""
    words = tuple(_word(i * 0.5, (i + 1) * 0.5, i) for i in range(40))
    seg = RawSegment(
        start=0.0,
        end=20.0,
        text=" ".join(w.text for w in words),
        avg_logprob=-0.3,
        no_speech_prob=0.0,
        compression_ratio=1.5,
        words=words,
    )
    parts = split_long(seg)
    assert all(p.end - p.start <= SEGMENT_S for p in parts)
    # two or three parts are enough; none of one word out of forty
    assert len(parts) <= 3, [(p.start, p.end, len(p.words)) for p in parts]


def test_opposite_phase_stereo_is_not_silently_an_empty_transcript(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("TESTIMONY_HOME", str(tmp_path / "home"))
    mono = np.concatenate(
        [_clip(n, tmp_path) for n in (17, 18, 20, 21)]
    )  # 39 s of interview speech
    pcm = (np.clip(mono, -1, 1) * 32767).astype("<i2")
    raw = tmp_path / "speech.raw"
    np.stack([pcm, -pcm], axis=1).tofile(raw)
    recording = tmp_path / "KZ-0009_phase.wav"
    ffmpeg("-f", "s16le", "-ar", str(SR), "-ac", "2", "-i", str(raw), str(recording))
    result = cli("process", recording, "--language", "kk")
    assert result.exit_code == 0, result.output
    [out] = (tmp_path / "home" / "outbox" / "KZ-0009").iterdir()
    data = json.loads((out / "transcript.json").read_text())
    assert data["segments"] or data["warnings"], "empty transcript, no warning"
    assert data["segments"] and "phase-inverted" in " ".join(data["warnings"])


class DropsWordsInsideItsFirstWindow:
    """The real engine, except that in its first batched decoding the first window's words
    said between ``lo`` and ``hi`` seconds are missing, the window's segment keeping its span.

    This is what the real decoder did without timestamp tokens on Russian voice queries joined
    without pauses (the evaluation clips golos_00-07 and six more, 56 s, which do not ship; the
    same through `testimony process`): the first window's one segment read the first two
    queries, then the fifth, its words timed 0-7.1 s and 16.6-20.4 s; the third and fourth
    queries (7.4-15.9 s, 6.8 s of speech the voice detector hears) were nowhere, with no flag.
    ``[asr] batch_size = 0`` decoded all four."""

    def __init__(self, engine, lo: float, hi: float):
        self.engine, self.name, self.batches = engine, engine.name, engine.batches
        self.lo, self.hi, self.calls = lo, hi, 0

    def decode(self, audio, options, progress=None):
        segments = self.engine.decode(audio, options, progress)
        self.calls += 1
        if self.calls > 1 or len(options.clips) < 2:
            return segments
        first = segments[0]
        kept = tuple(w for w in first.words if not self.lo < (w.start + w.end) / 2 < self.hi)
        text = " ".join(w.text.strip() for w in kept)
        return [dataclasses.replace(first, words=kept, text=text), *segments[1:]]


def test_speech_skipped_inside_a_batched_window_is_decoded_again(tmp_path, user):
    real, options = user
    clips = [_clip(n, tmp_path) for n in (17, 18, 20, 21)]
    pause = _silence(0.4)
    audio = np.concatenate([clips[0], pause, clips[1], pause, clips[2], pause, clips[3]])
    lo = (len(clips[0]) + len(pause)) / SR  # the second answer, 8.4 s, inside the first window
    hi = lo + len(clips[1]) / SR
    engine = DropsWordsInsideItsFirstWindow(real, lo, hi)
    segments = asr.transcribe(engine, audio, "kk", options).segments
    heard = [w["text"] for s in segments for w in s.words if lo < (w["start"] + w["end"]) / 2 < hi]
    assert len(heard) >= 5, f"no words for the speech at {lo:.1f}-{hi:.1f} s: {heard}"


class LoopsALongPhraseInItsFirstWindow:
    """The real engine, except that its first batched decoding loops in the first window as the
    real decoder did: three words said, then a phrase of nine words over and over to the
    window's end, over the speech it never decoded. Every later decoding is the real engine's.

    Without timestamp tokens the real decoder looped so on continuous Russian speech
    (espeak-ng, 58 s, no pause over 0.3 s): a phrase of ten words three times and more over
    28.8-45.8 s of its second window, the speech under it (33-45.8 s) nowhere, the segments
    flagged only by the window's compression ratio; batch_size = 0 decoded it."""

    SAID = ("менің", "ағам", "ерлан")
    PHRASE = ("ол", "бір", "жыл", "бұрын", "үрімжіге", "кетті", "содан", "бері", "хабарсыз")

    def __init__(self, engine):
        self.engine, self.name, self.batches, self.calls = engine, engine.name, engine.batches, 0

    def decode(self, audio, options, progress=None):
        from faster_whisper.transcribe import get_compression_ratio

        segments = self.engine.decode(audio, options, progress)
        self.calls += 1
        if self.calls > 1 or len(options.clips) < 2:
            return segments
        lo, hi = options.clips[0]
        texts = [*self.SAID, *self.PHRASE * 4]
        step = (hi - lo - 0.5) / len(texts)
        words = tuple(
            RawWord(lo + k * step, lo + (k + 1) * step, t, 0.9) for k, t in enumerate(texts)
        )
        text = " ".join(texts)
        looped = dataclasses.replace(
            segments[0],
            start=lo,
            end=words[-1].end,
            text=text,
            words=words,
            compression_ratio=get_compression_ratio(text),
        )
        return [looped, *segments[1:]]


def test_speech_under_a_loop_of_a_long_phrase_is_decoded_again(tmp_path, user):
    real, options = user
    clips = [_clip(n, tmp_path) for n in (17, 18, 20, 21)]
    pause = _silence(0.4)
    audio = np.concatenate([clips[0], pause, clips[1], pause, clips[2], pause, clips[3]])
    engine = LoopsALongPhraseInItsFirstWindow(real)
    segments = asr.transcribe(engine, audio, "kk", options).segments
    words = [w["text"].strip(" .,").lower() for s in segments for w in s.words]
    assert words.count("үрімжіге") <= 1, "the looped phrase is still in the transcript"
    assert engine.calls >= 2, "the speech under the loop was never decoded again"
