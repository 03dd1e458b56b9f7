"""What the pipeline adds around the engines: voice activity, Cyrillic output, loop guard, and
faster-whisper as a second engine on the same embedded weights."""

import re

import numpy as np
import pytest

from pipeline import asr, config, engines, loops, media, models, recovery, vad
from pipeline.engines.raw import RawSegment, RawWord
from pipeline.windows import SEGMENT_S

from conftest import KK_CLIP, SAMPLE

GREEDY = asr.DecodeOptions(fallback=False)  # exactly reproducible


@pytest.fixture(scope="module")
def base_ct2(tmp_path_factory):
    return str(models.assemble_embedded_ct2(tmp_path_factory.mktemp("ct2") / "base-ct2"))


def test_a_minute_of_silence_or_room_noise_has_no_words(home):
    model = asr.load_model(models.resolve_whisper(home, "tiny")[0])
    rng = np.random.default_rng(0)
    hum = 0.01 * np.sin(2 * np.pi * 50 * np.arange(60 * 16000) / 16000)
    for audio in (
        np.zeros(60 * 16000, np.float32),
        (rng.normal(0, 0.003, 60 * 16000) + hum).astype(np.float32),
    ):
        seen = []
        result = asr.transcribe(model, audio, "kk", GREEDY, progress=seen.append)
        assert result.segments == [] and seen[-1] == 1.0


def test_pauses_are_cut_out_and_times_mapped_back(home, tmp_path):
    model = asr.load_model(models.resolve_whisper(home, "tiny")[0])
    media.extract_audio(KK_CLIP, tmp_path / "a.wav")
    speech = media.load_wav(tmp_path / "a.wav")
    audio = np.concatenate(
        [np.zeros(8 * 16000, np.float32), speech, np.zeros(8 * 16000, np.float32)]
    )
    regions = vad.speech_regions(audio)
    assert regions and regions[0][0] >= 6 * 16000 and regions[-1][1] <= audio.size - 6 * 16000
    result = asr.transcribe(model, audio, "ru", GREEDY)
    assert result.segments and all(
        7 <= s.start <= s.end <= 8 + speech.size / 16000 + 1 for s in result.segments
    )


def _two_utterances(tmp_path) -> np.ndarray:
    """The clip (4.9 s), 4 s of silence, the clip again, 4 s of silence."""
    media.extract_audio(KK_CLIP, tmp_path / "a.wav")
    speech, pause = media.load_wav(tmp_path / "a.wav"), np.zeros(4 * 16000, np.float32)
    return np.concatenate([speech, pause, speech, pause])


def _segment(start: float, end: float, text: str, words: tuple[RawWord, ...] = ()) -> RawSegment:
    return RawSegment(
        start=start,
        end=end,
        text=text,
        avg_logprob=-0.3,
        no_speech_prob=0.0,
        compression_ratio=1.5,
        words=words,
    )


def test_speech_between_segments_is_found_and_pauses_are_not(tmp_path):
    audio = _two_utterances(tmp_path)
    first, second = _segment(0.0, 4.9, "а"), _segment(8.9, 13.8, "б")
    ((lo, hi),) = recovery.skipped_speech(audio, [first])
    assert 8.0 * 16000 <= lo and hi <= 14.3 * 16000 and hi - lo >= 3 * 16000
    assert recovery.skipped_speech(audio, [first, second]) == []


class SkipsAfterSixSeconds:
    """The real engine, except that its first decoding jumps past everything after 6 s, as
    Whisper's window sometimes jumps past a whole utterance."""

    def __init__(self, engine):
        self.engine, self.name, self.batches, self.decoded = engine, engine.name, engine.batches, []

    def decode(self, audio, options, progress=None):
        segments = self.engine.decode(audio, options, progress)
        self.decoded.append(len(audio) / 16000)
        return [s for s in segments if s.start < 6.0] if len(self.decoded) == 1 else segments


def test_skipped_speech_is_decoded_on_its_own_and_lands_in_place(home, tmp_path):
    engine = SkipsAfterSixSeconds(asr.load_model(models.resolve_whisper(home, "tiny")[0]))
    result = asr.transcribe(engine, _two_utterances(tmp_path), "kk", GREEDY)
    assert 3 <= engine.decoded[1] <= 6.5  # then the second utterance alone
    late = [s for s in result.segments if s.start >= 6.0]
    assert late and all(8.0 <= s.start <= s.end <= 14.3 for s in late)
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)


class LoopsOverTheSecondUtterance:
    """The real engine, except that its first decoding is scripted as Whisper loops: two words
    of the first utterance, then the last of them repeated to the end of the audio, over the
    speech it never decoded. Every later decoding is the real engine's."""

    SAID, LOOPED = "менің", "жолбарысым"  # words the clip does not hold

    def __init__(self, engine, inside_a_word: bool = False):
        self.engine, self.name, self.batches, self.decoded = engine, engine.name, engine.batches, []
        self.inside_a_word = inside_a_word

    def decode(self, audio, options, progress=None):
        self.decoded.append(len(audio) / 16000)
        if len(self.decoded) > 1:
            return self.engine.decode(audio, options, progress)
        end = len(audio) / 16000 - 0.5
        said = (RawWord(0.5, 1.5, self.SAID, 0.9), RawWord(1.5, 3.0, self.LOOPED, 0.9))
        if self.inside_a_word:  # one "word" of a syllable looping to the end, cut mid-character
            loop = (RawWord(3.0, end, "жолбар" + "ысым" * 40 + "\ufffd", 0.9),)
        else:
            step = (end - 3.0) / 12
            loop = tuple(
                RawWord(3.0 + k * step, 3.0 + (k + 1) * step, self.LOOPED, 0.9) for k in range(12)
            )
        return [_segment(0.5, end, " ".join(w.text for w in said + loop), said + loop)]


@pytest.mark.parametrize("inside_a_word", [False, True], ids=["words", "inside a word"])
def test_speech_under_a_decoder_loop_is_decoded_again_and_the_loop_cut(
    base_ct2, tmp_path, inside_a_word
):
    engine = LoopsOverTheSecondUtterance(engines.load("faster-whisper", base_ct2), inside_a_word)
    result = asr.transcribe(engine, _two_utterances(tmp_path), "kk", GREEDY)
    first = result.segments[0]
    # The loop is cut back to the words said before it, at their own times.
    assert first.text == f"{engine.SAID} {engine.LOOPED}" and first.end <= 4.0
    assert [w["text"] for s in result.segments for w in s.words].count(engine.LOOPED) == 1
    assert "\ufffd" not in " ".join(s.text for s in result.segments)
    # The speech under the loop was decoded again, on its own, and its words are in place.
    assert len(engine.decoded) >= 2 and min(engine.decoded[1:]) < engine.decoded[0]
    late = [w for s in result.segments for w in s.words if w["start"] >= 8.0]
    assert late and all(w["end"] <= 14.3 for w in late)  # the second utterance's words
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)


def _word(start: float, end: float, text: str) -> RawWord:
    return RawWord(start, end, text, 0.9)


def test_a_looped_segment_is_cut_where_its_speech_was_decoded_again():
    said = [
        _word(0.0, 1.2, "ал"),
        *[_word(1.2 + n, 2.2 + n, "бір") for n in range(6)],
        _word(9.0, 9.5, "сосын"),
    ]
    seg = _segment(0.0, 10.0, " ".join(w.text for w in said), tuple(said))
    # The stretch decoded again starts 0.1 s inside the kept "бір" (the voice detector's padding).
    before, after = recovery.cut_around(seg, [(2.1, 8.5)])
    assert (before.start, before.end, before.text) == (0.0, 2.2, "ал бір")
    assert (after.start, after.end, after.text) == (9.0, 10.0, "сосын")
    unlooped = _segment(0.0, 10.0, "ал бір сосын", tuple(said[:2] + said[-1:]))
    # a segment that did not loop (a batched window) is cut around speech between its words
    # that was decoded again, and stays whole where that speech lies outside its words
    assert [p.text for p in recovery.cut_around(unlooped, [(2.1, 8.5)])] == ["ал бір", "сосын"]
    assert recovery.cut_around(unlooped, [(9.6, 12.0)]) == [unlooped]


def test_loops_are_cut_back_to_one_occurrence():
    assert loops.collapse_loops("өдім өдім өдім өдім өдім") == ("өдім", True)
    assert loops.collapse_loops("ал бір екі, бір екі бір екі бір екі сосын") == (
        "ал бір екі, сосын",
        True,
    )
    assert loops.collapse_loops("иә иә бәрі жақсы") == ("иә иә бәрі жақсы", False)
    # a syllable looping inside a word; "ағаға" (to the elder brother) and the filler "ааа" are speech
    assert loops.collapse_loops("бір оқйғағағағағағағаға бар") == ("бір оқйға бар", True)
    assert loops.collapse_loops("ағаға ааа айттым") == ("ағаға ааа айттым", False)
    said = [RawWord(float(n), n + 0.5, t, 0.9) for n, t in enumerate("ал бір екі".split())]
    looped = said + [RawWord(3.0 + n, 3.5 + n, said[-1].text, 0.9) for n in range(4)]
    assert loops.collapse_word_loops(looped) == said  # the words really said keep their own times


def test_foreign_script_tokens_are_the_same_in_both_engines(base_ct2):
    from pipeline.engines.openai_whisper import _foreign_ids

    fw = engines.load("faster-whisper", base_ct2)
    ids = set(_foreign_ids())
    assert ids == set(fw._foreign_ids()) and 40000 < len(ids) < 50257
    tokens = fw.model.hf_tokenizer
    for foreign in ("hello world", "你好", "مرحبا", "안녕"):
        assert any(i in ids for i in tokens.encode(foreign, add_special_tokens=False).ids)
    assert not any(
        i in ids
        for i in tokens.encode(" Менің ағам, «Ерлан» — 1990 жылы!", add_special_tokens=False).ids
    )


def test_faster_whisper_transcribes_real_kazakh_in_cyrillic(base_ct2, tmp_path):
    engine = engines.load("faster-whisper", base_ct2)
    wav = tmp_path / "a.wav"
    media.extract_audio(KK_CLIP, wav)
    result = asr.transcribe_file(
        engine, wav, "kk", resume_dir=tmp_path / "p", resume_key="k", options=GREEDY
    )
    text = " ".join(s.text for s in result.segments)
    assert (
        result.segments
        and re.search("[а-яәғқңөұүһі]", text.lower())
        and not re.search("[A-Za-z]", text)
    )
    assert all(0 <= s.start <= s.end <= 5.5 for s in result.segments)
    assert asr.detect_language(engine, media.load_wav(wav))[0] in ("kk", "ru")


class CountsClips:
    """The real engine, counting the windows it is given to decode side by side."""

    def __init__(self, engine):
        self.engine, self.name, self.batches, self.clips = engine, engine.name, engine.batches, []

    def decode(self, audio, options, progress=None):
        self.clips.append(len(options.clips))
        return self.engine.decode(audio, options, progress)


def test_batched_windows_by_default_keep_all_speech_once_in_order(base_ct2, home, tmp_path):
    engine = CountsClips(engines.load("faster-whisper", base_ct2))
    media.extract_audio(SAMPLE, tmp_path / "a.wav")
    audio = media.load_wav(tmp_path / "a.wav")[: 40 * 16000]  # real speech: two windows
    segments = asr.transcribe(engine, audio, "kk", asr.decode_options(home)).segments
    assert engine.clips[0] >= 2  # the settings a user gets batch the windows
    text = " ".join(s.text for s in segments)
    assert re.search("[а-яәғқңөұүһі]", text.lower()) and "\ufffd" not in text
    assert all(
        s.words and s.start <= w["start"] <= w["end"] <= s.end <= 40
        for s in segments
        for w in s.words
    )
    # in order, no two segments over the same time, none longer than a reviewer's unit of work
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:]))
    assert all(s.end - s.start <= SEGMENT_S for s in segments)
    # every stretch of speech the voice detector hears is in some segment
    for lo, hi in vad.speech_spans(audio, 500, pad_ms=0):
        if hi - lo >= 16000:
            assert any(s.start < hi / 16000 and s.end > lo / 16000 for s in segments)


def test_the_engine_setting_picks_the_model_format(home):
    path, sha = models.resolve_for_engine(home, "faster-whisper", "base")
    assert path.endswith("base-ct2") and sha == models.EMBEDDED_CT2_SHA256
    assert models.resolve_for_engine(home, "openai-whisper", "tiny")[0].endswith("tiny.pt")
    assert models.resolve_for_engine(home, "faster-whisper", "tiny")[0].endswith(
        "tiny-ct2"
    )  # converted once
    with pytest.raises(models.ModelError, match="no-such-model"):
        models.resolve_for_engine(home, "faster-whisper", "no-such-model")
    with pytest.raises(ValueError, match="unknown speech engine"):
        engines.load("whisper.cpp", path)


def test_the_compute_type_is_the_measured_best_unless_set(base_ct2):
    from pipeline.engines import compute

    engine = engines.load("faster-whisper", base_ct2)  # the default: auto, int8 on a CPU
    assert engine.compute_type == "int8" and engine.model.model.compute_type.startswith("int8")
    assert compute.choose("faster-whisper", "cuda") == "float16"
    assert compute.choose("openai-whisper", "cpu") == "float32"
    f32 = engines.load("faster-whisper", base_ct2, compute_type="float32")
    assert f32.compute_type == "float32" and f32.model.model.compute_type == "float32"
    with pytest.raises(ValueError, match="float16 on a GPU only"):
        compute.choose("openai-whisper", "cpu", "float16")


def test_a_compute_type_the_engine_lacks_is_refused_with_the_ones_it_has(home):
    settings_file = home.home / "testimony.toml"
    text = settings_file.read_text(encoding="utf-8")
    settings_file.write_text(
        text.replace("[asr]\n", '[asr]\ncompute_type = "int8"\n'), encoding="utf-8"
    )
    refused = "compute_type 'int8' is not one openai-whisper has: auto, float32, float16"
    with pytest.raises(config.SettingsError, match=refused):
        config.load(home.home)
