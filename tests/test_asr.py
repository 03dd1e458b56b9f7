"""The real whisper loader and decoder on a tiny random-weight checkpoint (plumbing only)."""

import dataclasses
import json

from pipeline import asr, media, models

from builders import KAZAKH_WORD_TOKEN, tiny_whisper_checkpoint

GREEDY = asr.DecodeOptions(fallback=False)  # exactly reproducible
GREEDY_1 = asr.DecodeOptions(fallback=False, beam_size=1)  # greedy for Russian too


def test_tiny_checkpoint_runs_the_real_decoder_with_progress(home, speech_video, tmp_path):
    checkpoint, sha = models.resolve_whisper(home, "tiny")
    assert len(sha) == 64
    model = asr.load_model(checkpoint)
    media.extract_audio(speech_video, tmp_path / "a.wav")
    seen = []
    audio = media.load_wav(tmp_path / "a.wav")
    result = asr.transcribe(model, audio, "ru", GREEDY, progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert result.segments
    for seg in result.segments:
        assert 0 <= seg.start <= seg.end and seg.language == "ru"
        figures = (seg.avg_logprob, seg.no_speech_prob, seg.compression_ratio)
        assert all(isinstance(x, float) for x in figures) or "low confidence" in seg.flags
    assert [s.id for s in result.segments] == list(range(1, len(result.segments) + 1))


def test_kyrgyz_is_decoded_as_kazakh_and_flagged_for_full_review(home, speech_video, tmp_path):
    model = asr.load_model(models.resolve_whisper(home, "tiny")[0])
    media.extract_audio(speech_video, tmp_path / "a.wav")
    result = asr.transcribe(model, media.load_wav(tmp_path / "a.wav"), "ky", GREEDY)
    assert result.language == "ky" and result.segments
    assert all(asr.UNSUPPORTED_FLAG in s.flags and s.language == "ky" for s in result.segments)


def test_detection_is_restricted_to_kazakh_and_russian(home, speech_video, tmp_path):
    model = asr.load_model(models.resolve_whisper(home, "tiny")[0])
    media.extract_audio(speech_video, tmp_path / "a.wav")
    language, scores = asr.detect_language(model, media.load_wav(tmp_path / "a.wav"))
    assert language in ("kk", "ru") and set(scores) == {"kk", "ru"}


def test_decoder_figures_that_are_not_numbers_become_a_flag():
    assert asr._figure(float("nan")) is None and asr._figure(float("-inf")) is None
    assert asr._figure(-0.123456) == -0.1235


def test_flags_follow_the_decoder_figures():
    assert asr.flags_for(avg_logprob=-0.2, compression_ratio=1.3, no_speech_prob=0.1) == []
    assert asr.flags_for(avg_logprob=-1.5, compression_ratio=3.0, no_speech_prob=0.9) == [
        "low confidence",
        "repetition",
        "possible hallucination in silence",
    ]


def test_unknown_model_is_not_downloaded(home):
    import pytest

    with pytest.raises(models.ModelError, match="allow-download"):
        models.resolve_whisper(home, "large-v3")


def test_long_file_resumes_after_the_last_saved_piece(home, speech_video, tmp_path, monkeypatch):
    model = asr.load_model(models.resolve_whisper(home, "tiny")[0])
    wav = tmp_path / "a.wav"
    media.extract_audio(speech_video, wav)
    calls = []
    real = asr.transcribe
    monkeypatch.setattr(asr, "transcribe", lambda *a, **k: calls.append(1) or real(*a, **k))
    pieces = tmp_path / "pieces"
    first = asr.transcribe_file(
        model, wav, "ru", resume_dir=pieces, resume_key="k", chunk_seconds=2, options=GREEDY_1
    )
    n = len(calls)
    assert n >= 2 and len(list(pieces.iterdir())) == n
    assert [s.id for s in first.segments] == list(range(1, len(first.segments) + 1))
    assert all(s.start >= 0 for s in first.segments)
    assert max(s.start for s in first.segments) >= 2.0, "later pieces are shifted to their place"

    sorted(pieces.iterdir())[-1].unlink()  # as if killed during the last piece
    again = asr.transcribe_file(
        model, wav, "ru", resume_dir=pieces, resume_key="k", chunk_seconds=2, options=GREEDY_1
    )
    assert len(calls) == n + 1, "only the unfinished piece is decoded again"
    assert again.segments == first.segments
    asr.transcribe_file(
        model,
        wav,
        "ru",
        resume_dir=pieces,
        resume_key="other model",
        chunk_seconds=2,
        options=GREEDY_1,
    )
    assert len(calls) == 2 * n + 1, "a different model starts over"


def test_a_kyrgyz_model_mapped_for_ky_is_not_flagged_as_a_stand_in(
    home, speech_video, tmp_path, tiny_checkpoint
):
    models.add_model(home, tiny_checkpoint, name="kyrgyz-tiny", languages="ky,kk")
    settings = dataclasses.replace(home, language_models=(("ky", "kyrgyz-tiny"),))
    engine, path, _, name = asr.load_engine(settings, language="ky")
    assert name == "kyrgyz-tiny" and path.endswith("kyrgyz-tiny.pt")
    assert asr.native_languages(settings, name) == ("kk", "ky")
    media.extract_audio(speech_video, tmp_path / "a.wav")
    options = asr.DecodeOptions(fallback=False, native=asr.native_languages(settings, name))
    result = asr.transcribe(engine, media.load_wav(tmp_path / "a.wav"), "ky", options)
    assert result.segments and all(
        s.language == "ky" and asr.UNSUPPORTED_FLAG not in s.flags for s in result.segments
    )


def test_a_kazakh_passage_in_a_russian_file_is_labelled_kazakh(home, speech_video, tmp_path):
    """A model that writes the Kazakh word "мен": in a file tagged Russian, its segments are
    Kazakh passages, decoded again as Kazakh and translated with the Kazakh package."""
    model = asr.load_model(
        str(tiny_whisper_checkpoint(tmp_path / "kazakh.pt", word=KAZAKH_WORD_TOKEN))
    )
    media.extract_audio(speech_video, tmp_path / "a.wav")
    result = asr.transcribe(model, media.load_wav(tmp_path / "a.wav"), "ru", GREEDY_1)
    assert result.segments and all(s.text == "мен" and s.language == "kk" for s in result.segments)


def test_names_from_the_sidecar_reach_the_decoder_as_its_prompt(
    home, speech_video, cli, tmp_path, monkeypatch
):
    """The real engine, wrapped only to see what it is asked to decode with."""
    from pipeline import engines

    prompts = []
    real_load = engines.load

    def load(name, path, threads=0, **kwargs):
        engine = real_load(name, path, threads, **kwargs)
        decode = engine.decode

        def recording(audio, options, progress=None):
            prompts.append(options.initial_prompt)
            return decode(audio, options, progress)

        engine.decode = recording
        return engine

    (tmp_path / "names.mp4").write_bytes(speech_video.read_bytes())
    (tmp_path / "names.mp4.toml").write_text(
        'case_id = "KZ-9"\nnames = ["Айгүл Серікқызы", "Құлжа"]\n'
    )
    monkeypatch.setattr(engines, "load", load)
    result = cli("process", tmp_path / "names.mp4", "--language", "kk")
    assert result.exit_code == 0, result.output
    assert prompts and set(prompts) == {"Айгүл Серікқызы, Құлжа"}
    [out] = (home.outbox / "KZ-9").iterdir()
    options = json.loads((out / "provenance.json").read_text())["options"]
    assert options["prompt_names"] == ["Айгүл Серікқызы", "Құлжа"] and options[
        "native_languages"
    ] == ["kk", "ru"]


_DECODE_AND_REPORT_CACHE = """
import json, sys
from pipeline import asr, media
from whisper import timing
engine = asr.load_model(sys.argv[1])
result = asr.transcribe(engine, media.load_wav(sys.argv[2]), "kk", asr.DecodeOptions(fallback=False))
print(json.dumps({
    "words": [w for s in result.segments for w in s.words],
    "hits": sum(timing.dtw_cpu.stats.cache_hits.values()),
}))
"""


def test_word_alignment_is_compiled_once_per_machine_and_times_the_same(
    home, speech_video, tmp_path
):
    """whisper's numba alignment, cached on disk: a second process loads it instead of compiling
    it again (2.8 s of CPU each), and gives the same word times."""
    import os
    import subprocess
    import sys

    checkpoint, _ = models.resolve_whisper(home, "tiny")
    wav = tmp_path / "a.wav"
    media.extract_audio(speech_video, wav)
    cache = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _DECODE_AND_REPORT_CACHE, checkpoint, str(wav)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(2)
    ]
    assert runs[0]["words"] and runs[0]["words"] == runs[1]["words"]
    assert runs[0]["hits"] == 0 and runs[1]["hits"] >= 1
    assert list(cache.rglob("*.nbi"))
