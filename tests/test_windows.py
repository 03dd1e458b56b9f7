"""Batched decoding's windows: all the audio, none longer than Whisper hears, cut in pauses."""

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from pipeline import media
from pipeline.engines.raw import RawSegment, RawWord
from pipeline.recovery import held_inside
from pipeline.windows import (
    WINDOW_S,
    decoding_windows,
    split_at_splices,
    split_long,
    stretch_windows,
)

from conftest import KK_CLIP

RATE = media.SAMPLE_RATE


def test_windows_cover_the_audio_and_are_cut_in_pauses(tmp_path):
    media.extract_audio(KK_CLIP, tmp_path / "a.wav")
    speech = media.load_wav(tmp_path / "a.wav")  # 4.9 s of Kazakh speech
    pause = np.zeros(RATE, np.float32)
    audio = np.concatenate([np.concatenate([speech, pause]) for _ in range(9)])  # 53 s
    windows = decoding_windows(audio)
    assert windows[0][0] == 0 and windows[-1][1] == len(audio) / RATE
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))  # nothing lost between them
    assert all(0 < end - start <= WINDOW_S for start, end in windows)
    assert len(windows) == 2  # packed: as many as 30 s windows need, not one per utterance
    heard = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=300))
    cut = windows[0][1] * RATE
    assert not any(s["start"] < cut < s["end"] for s in heard)  # no word is cut in two


def test_speech_without_a_pause_is_cut_at_the_limit():
    windows = decoding_windows(np.zeros(75 * RATE, np.float32))
    assert windows == [(0.0, 30.0), (30.0, 60.0), (60.0, 75.0)]
    assert decoding_windows(np.zeros(RATE, np.float32)) == [(0.0, 1.0)]
    assert decoding_windows(np.zeros(0, np.float32)) == []


def test_a_long_segment_is_cut_at_its_longest_pauses():
    times = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14]
    words = tuple(RawWord(t, t + 0.8, f"сөз{n}", 0.9) for n, t in enumerate(times))
    seg = RawSegment(0.0, 15.0, " ".join(w.text for w in words), -0.4, 0.1, 1.3, words)
    parts = split_long(seg, limit_s=5.0)
    texts = ["сөз0 сөз1 сөз2 сөз3", "сөз4 сөз5 сөз6", "сөз7 сөз8 сөз9"]
    assert [p.text for p in parts] == texts
    assert [(p.start, p.end) for p in parts] == [(0.0, 3.8), (6, 8.8), (12, 15.0)]
    assert all(p.avg_logprob == -0.4 for p in parts) and split_long(parts[0], 5.0) == [parts[0]]


def test_a_segment_timed_past_its_clip_ends_with_it():
    def segment(start: float, end: float) -> RawSegment:
        return RawSegment(start, end, "сөз", -0.3, 0.0, 1.2)

    held = held_inside([segment(2.5, 7.0), segment(10.0, 12.0)], [(2.0, 5.0), (10.0, 40.0)])
    assert [(s.start, s.end) for s in held] == [(2.5, 5.0), (10.0, 12.0)]


def test_a_segment_timed_just_before_its_clip_stays_with_its_clip():
    seg = RawSegment(26.330, 31.0, "сіз тікток", -0.3, 0.0, 1.2)
    [held] = held_inside([seg], [(0.0, 26.336), (26.336, 31.0)])
    assert (held.start, held.end) == (26.336, 31.0)  # found by the check of batched windows


def test_a_segment_timed_wholly_past_its_clip_is_dropped_and_words_stay_inside():
    words = (RawWord(1.9, 2.4, "ал", 0.9), RawWord(4.8, 6.0, "сосын", 0.9))
    seg = RawSegment(1.9, 6.0, "ал сосын бір", -0.3, 0.0, 1.2, (*words, RawWord(5, 6, "бір", 0.9)))
    past = RawSegment(5.5, 7.0, "бір", -0.3, 0.0, 1.2)
    [held] = held_inside([seg, past], [(2.0, 5.0), (10.0, 40.0)])
    assert (held.start, held.end, held.text) == (2.0, 5.0, "ал сосын")
    assert [(w.start, w.end) for w in held.words] == [(2.0, 2.4), (4.8, 5.0)]


def test_a_long_segment_is_never_cut_into_a_part_without_time():
    # words held at the segment's start by its clip, then a real pause
    words = [RawWord(0.0, 0.0, "ал", 0.9), RawWord(0.0, 0.0, "бір", 0.9)]
    words += [RawWord(1.0 + n, 1.5 + n, "екі", 0.9) for n in range(12)]
    seg = RawSegment(0.0, 13.0, " ".join(w.text for w in words), -0.3, 0.0, 1.2, tuple(words))
    parts = split_long(seg)
    assert len(parts) > 1 and all(p.end > p.start for p in parts)
    assert [w for p in parts for w in p.words] == words


def test_stretches_decoded_again_are_windows_in_the_whole_audios_time():
    audio = np.zeros(100 * RATE, np.float32)
    assert stretch_windows(audio, [(2 * RATE, 5 * RATE), (10 * RATE, 45 * RATE)]) == [
        (2.0, 5.0),
        (10.0, 40.0),
        (40.0, 45.0),
    ]


def test_a_segment_across_a_cut_out_silence_is_cut_there_and_no_word_spans_it():
    words = (
        RawWord(1.0, 2.0, "бір", 0.9),
        RawWord(2.5, 5.5, "екі", 0.9),  # across the splice at 5.0, mostly before it
        RawWord(5.8, 6.5, "үш", 0.9),
    )
    seg = RawSegment(
        start=0.5,
        end=7.0,
        text=" бір екі үш",
        avg_logprob=-0.3,
        no_speech_prob=0.0,
        compression_ratio=1.2,
        words=words,
    )
    before, after = split_at_splices(seg, [5.0, 20.0])
    assert (before.start, before.end, before.text) == (0.5, 5.0, "бір екі")
    assert before.words[-1].end == 5.0 and (after.start, after.end, after.text) == (5.0, 7.0, "үш")
    assert split_at_splices(seg, [8.0]) == [seg]
