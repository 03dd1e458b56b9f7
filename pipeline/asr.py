"""Speech to text, keeping what a reviewer needs to judge each segment.

Around the engine's decoding (faster-whisper by default, openai-whisper by setting; see
:mod:`pipeline.engines`) this module adds what bare Whisper lacks on interviews:

- voice activity detection (Silero, shipped inside faster-whisper) so that long silences are
  cut out before decoding instead of being "transcribed" into invented text, and so that speech
  the decoder jumped past is found and decoded on its own rather than missing from the record;
- tokens of other scripts suppressed for Kazakh, Kyrgyz and Russian, which are written in
  Cyrillic (base Whisper otherwise writes whole Kazakh clips in Latin transliteration);
- with faster-whisper, audio longer than one window decoded in windows cut at pauses, several
  side by side (:mod:`pipeline.windows`);
- a repetition guard (:mod:`pipeline.loops`): a phrase looping three or more times is cut back
  to one occurrence and the segment flagged, so a loop neither floods the transcript nor passes
  unnoticed, and the speech the loop lay over is decoded again (:mod:`pipeline.recovery`);
- flags from the decoder's own figures (confidence, compression ratio, no-speech probability).

Whisper has no Kyrgyz: a Kyrgyz recording is decoded as Kazakh (the closest language it has)
and every segment is flagged for full review. When no language is given, detection is
restricted to the languages these interviews are in.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import engines, recovery
from . import language as language_check
from .config import LANGUAGES
from .engines.raw import EngineOptions, RawSegment, RawWord
from .loops import collapse_loops, collapse_word_loops
from .media import SAMPLE_RATE
from .transcript import Segment, fit_words, write_atomic
from .vad import TimeMap, speech_regions
from .windows import decoding_windows, split_at_splices, split_long, stretch_windows

log = logging.getLogger(__name__)

DETECTABLE = ("kk", "ru")
WHISPER_STANDIN = {"ky": "kk"}  # languages Whisper lacks -> the closest one it has
CYRILLIC = {"kk", "ky", "ru"}
UNSUPPORTED_FLAG = "unsupported language: full review needed"
REPETITION_FLAG = "repetition"

# Thresholds of whisper.transcribe's own fallback logic, reused to flag what still fails them.
LOW_LOGPROB = -1.0
# Below this a segment is worth a second listen: on the dev sets (see bench/README.md) every
# clip with CER > 0.5 had a segment under it, no Russian clip with CER < 0.15 did.
UNCERTAIN_LOGPROB = -0.65
# Greedy search does better on Kazakh with base (beam search drifts into fluent invented
# words); beam search (5) does better on Russian (bench/README.md).
BEAM_SIZE: dict[str, int] = {"ru": 5}
HIGH_COMPRESSION = 2.4
HIGH_NO_SPEECH = 0.6
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class Recognition:
    language: str
    detected: dict[str, float] | None
    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DecodeOptions:
    """How :func:`transcribe` decodes, as the settings decide it.

    ``fallback`` re-decodes a window at rising temperatures when it looks like a hallucination
    (whisper's default); without it decoding is greedy and exactly reproducible. ``vad`` cuts
    the audio down to its speech first; audio with no speech gives no segments. ``beam_size``
    0 means the per-language default (:data:`BEAM_SIZE`, else greedy). ``batch_size`` > 1 has
    an engine that batches (faster-whisper) decode that many windows of up to 30 s, cut at pauses
    (:mod:`pipeline.windows`), side by side, and the stretches decoded again likewise (greedy
    only; with ``fallback`` it decodes window after window).
    ``native`` are the languages the model was trained on; others are decoded as their
    stand-in and flagged."""

    fallback: bool = True
    vad: bool = True
    beam_size: int = 0
    batch_size: int = engines.DEFAULT_BATCH_SIZE
    native: tuple[str, ...] = DETECTABLE

    def as_json(self) -> dict:
        """The options as JSON holds them (sent to a cluster worker, named in a resume key)."""
        return {**asdict(self), "native": list(self.native)}

    @classmethod
    def from_json(cls, data: dict) -> DecodeOptions:
        return cls(**{**data, "native": tuple(data["native"])})


# Engines and options ---------------------------------------------------------------------


def engine_name(settings) -> str:
    return settings.asr_engine


def load_engine(
    settings, engine: str | None = None, model: str | None = None, language: str | None = None
):
    """The engine the settings choose, with the model for ``language`` unless ``model`` names
    one: (engine, model path, SHA-256 or None, model name)."""
    from . import models

    engine = engine or engine_name(settings)
    name = model or models.model_for_language(settings, language)
    path, sha = models.resolve_for_engine(settings, engine, model, language=language)
    loaded = engines.load(engine, path, settings.threads, compute_type=settings.asr_compute_type)
    return loaded, path, sha, name


def load_model(
    checkpoint: str,
    threads: int = 0,
    engine: str = "openai-whisper",
    compute_type: str = engines.AUTO,
):
    """The engine for a model path: by default an openai-whisper ``.pt`` checkpoint."""
    return engines.load(engine, checkpoint, threads, compute_type=compute_type)


def decode_options(settings, native: tuple[str, ...] = DETECTABLE) -> DecodeOptions:
    """The options of :func:`transcribe` that the settings decide, for a model trained on
    ``native`` (:func:`native_languages`)."""
    return DecodeOptions(
        fallback=settings.temperature_fallback,
        vad=settings.asr_vad,
        beam_size=settings.asr_beam_size,
        batch_size=settings.asr_batch_size,
        native=native,
    )


def native_languages(settings, model_name: str) -> tuple[str, ...]:
    """The interview languages the model was trained for: those recorded when it was added
    (e.g. ``ky`` for a Kyrgyz fine-tune), else Whisper's own (Kazakh and Russian, no Kyrgyz)."""
    from . import models

    recorded = (models.model_info(settings, model_name) or {}).get("languages") or DETECTABLE
    return tuple(code for code in LANGUAGES if code in recorded)


def resume_key(engine, model_id: str, options: DecodeOptions, prompt: str | None) -> str:
    """Names everything that changes a decoded piece, so a changed setting starts over."""
    named = sorted(options.as_json().items())
    return json.dumps(
        [engine.name, engine.compute_type, model_id, named, prompt, "word times"],
        ensure_ascii=False,
    )


def detect_language(engine, audio: np.ndarray, allowed=DETECTABLE) -> tuple[str, dict[str, float]]:
    """Whisper's language detection on the first 30 s, restricted to ``allowed``."""
    scores = {code: _figure(p) or 0.0 for code, p in engine.detect_language(audio, allowed).items()}
    return max(scores, key=scores.get), scores


def _figure(value) -> float | None:
    """A decoder figure rounded for the transcript; None for NaN or infinity, which JSON cannot hold."""
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None


# Guards and flags ------------------------------------------------------------------------


def flags_for(avg_logprob: float, no_speech_prob: float, compression_ratio: float) -> list[str]:
    flags = []
    if avg_logprob < LOW_LOGPROB:
        flags.append("low confidence")
    elif avg_logprob < UNCERTAIN_LOGPROB:
        flags.append("uncertain")
    if compression_ratio > HIGH_COMPRESSION:
        flags.append(REPETITION_FLAG)
    if no_speech_prob > HIGH_NO_SPEECH and avg_logprob < LOW_LOGPROB:
        flags.append("possible hallucination in silence")
    return flags


_WORDLESS = re.compile(r"^[\W_]*$")
# Half a character: the decoder stopped inside a character's bytes (a loop cut at its token
# limit). It is no letter of what was said, so it is dropped from text and words.
BROKEN = "\ufffd"


def transcribe(
    engine,
    audio: np.ndarray,
    language: str | None,
    options: DecodeOptions = DecodeOptions(),
    *,
    progress: Callable[[float], None] | None = None,
    initial_prompt: str | None = None,
    words: bool = True,
) -> Recognition:
    """Decode ``audio`` (16 kHz mono float32) into segments with confidence figures and flags,
    as ``options`` say; ``words`` times each word (off only to measure what word times cost).

    Each segment is labelled with the language its text reads as (:mod:`pipeline.language`);
    a Russian passage in a Kazakh or Kyrgyz interview, or the reverse, is decoded again in its
    own language and keeps whichever decoding the model is surer of.
    """
    detected = None
    if language is None:
        language, detected = detect_language(engine, audio)
    decode_as = WHISPER_STANDIN.get(language, language)
    timemap = None
    if options.vad:
        regions = speech_regions(audio)
        if not regions:
            if progress:
                progress(1.0)
            log.info("no speech found in %.1f s of audio", len(audio) / SAMPLE_RATE)
            return Recognition(language=language, detected=detected, segments=[])
        timemap = TimeMap(regions)
        audio = np.concatenate([audio[s:e] for s, e in regions])

    def decoding(as_language: str) -> EngineOptions:
        return EngineOptions(
            language=as_language,
            initial_prompt=initial_prompt,
            cyrillic_only=as_language in CYRILLIC,
            temperatures=FALLBACK_TEMPERATURES if options.fallback else (0.0,),
            beam_size=options.beam_size or BEAM_SIZE.get(as_language, 1),
            word_timestamps=words,
            batch_size=options.batch_size,
        )

    as_decoded = decoding(decode_as)
    windows = decoding_windows(audio)
    # One window gains nothing from batching, and the sequential decoder goes on past where it
    # stopped early in a window: on the Kazakh tuning clips (all under 30 s) batched decoding
    # made more word errors (docs/benchmarks.md, "Batched windows").
    batched = engine.batches and options.batch_size > 1 and not options.fallback
    batched = batched and len(windows) > 1

    def one_by_one(spans: list[tuple[int, int]]) -> list[RawSegment]:
        return recovery.each_on_its_own(
            audio, spans, lambda piece: engine.decode(piece, as_decoded)
        )

    if batched:
        raw = _side_by_side(engine, audio, as_decoded, windows, progress)

        def side_by_side(spans: list[tuple[int, int]]) -> list[RawSegment]:
            return _side_by_side(engine, audio, as_decoded, stretch_windows(audio, spans))

        # Every round batched: a stretch that loops or stops short again is decoded again from
        # where its kept words end, in fresh windows. Window after window cost the interview
        # 1.6x the bare call for no fewer word errors (docs/benchmarks.md, "Batched windows").
        redecode: recovery.Decode = side_by_side
    else:
        raw = engine.decode(audio, as_decoded, progress)
        redecode = one_by_one
    if options.vad:
        raw = recovery.fill_gaps(audio, raw, redecode)
    if timemap:
        raw = [part for seg in raw for part in split_at_splices(seg, timemap.splices())]
    if batched:  # a loop left whole stays one segment, flagged; cut, it would hide among parts
        raw = [
            part
            for seg in raw
            for part in (split_long(seg) if recovery.loop_kept(seg) is None else [seg])
        ]
    length = len(audio) / SAMPLE_RATE  # the decoder's last timestamp can fall past it
    segments = []
    for seg in raw:
        text, looped = collapse_loops(seg.text.replace(BROKEN, "").strip())
        if _WORDLESS.match(text):
            continue
        read_as, seg_language = language_check.label(text), language
        if read_as and (read_as == "ru") != (decode_as == "ru"):
            seg_language = read_as
            again = _redecode(engine, audio, seg, decoding(WHISPER_STANDIN.get(read_as, read_as)))
            if again and again.avg_logprob >= seg.avg_logprob:
                seg = again
                text, looped = collapse_loops(seg.text.replace(BROKEN, "").strip())
        figures = {
            "avg_logprob": _figure(seg.avg_logprob),
            "no_speech_prob": _figure(seg.no_speech_prob),
            "compression_ratio": _figure(seg.compression_ratio),
        }
        if (
            None in figures.values()
        ):  # the decoder gave no usable figure: nothing vouches for the text
            flags = ["low confidence"]
        else:
            flags = flags_for(**figures)
        if looped and REPETITION_FLAG not in flags:
            flags.append(REPETITION_FLAG)
        if seg_language not in options.native:
            flags.append(UNSUPPORTED_FLAG)
        start, end = min(float(seg.start), length), min(float(seg.end), length)
        if timemap:
            start, end = timemap(start), timemap(end, end=True)
        start, end = round(start, 3), round(max(end, start), 3)
        timed = collapse_word_loops(_timed_words(seg.words, start, end, length, timemap))
        segments.append(
            Segment(
                id=len(segments) + 1,
                start=start,
                end=end,
                language=seg_language,
                text=text,
                flags=flags,
                words=[asdict(w) for w in timed],
                **figures,
            )
        )
        fit_words(segments[-1])  # words that do not spell the text are dropped, never left wrong
    log.info("transcribed %d segments as %s with %s", len(segments), decode_as, engine.name)
    return Recognition(language=language, detected=detected, segments=segments)


def _side_by_side(
    engine,
    audio: np.ndarray,
    options: EngineOptions,
    clips: list[tuple[float, float]],
    progress: Callable[[float], None] | None = None,
) -> list[RawSegment]:
    """Only ``clips`` of ``audio`` decoded, batched, each segment held inside its clip."""
    decoded = engine.decode(audio, dataclasses.replace(options, clips=tuple(clips)), progress)
    return recovery.held_inside(decoded, clips)


def _timed_words(
    words: tuple[RawWord, ...], start: float, end: float, length: float, timemap
) -> list[RawWord]:
    """The engine's words in the original audio's time, each held inside its segment."""
    timed = []
    for w in words:
        text = w.text.replace(BROKEN, "")
        if not text:
            continue
        w_start, w_end = min(w.start, length), min(w.end, length)
        if timemap:
            w_start, w_end = timemap(w_start), timemap(w_end, end=True)
        w_start = min(max(w_start, start), end)
        timed.append(
            RawWord(
                start=round(w_start, 3),
                end=round(min(max(w_end, w_start), end), 3),
                text=text,
                probability=round(w.probability, 3),
            )
        )
    return timed


def _redecode(
    engine, audio: np.ndarray, seg: RawSegment, options: EngineOptions
) -> RawSegment | None:
    """``seg`` decoded again as ``options`` say, as one segment over the same span (or None)."""
    piece = audio[int(seg.start * SAMPLE_RATE) : int(seg.end * SAMPLE_RATE)]
    if len(piece) < SAMPLE_RATE // 2:
        return None
    parts = [p for p in engine.decode(piece, options) if p.text.strip()]
    if not parts:
        return None
    weights = [max(p.end - p.start, 0.01) for p in parts]
    return RawSegment(
        start=seg.start,
        end=seg.end,
        text=" ".join(p.text.strip() for p in parts),
        avg_logprob=float(np.average([p.avg_logprob for p in parts], weights=weights)),
        no_speech_prob=max(p.no_speech_prob for p in parts),
        compression_ratio=max(p.compression_ratio for p in parts),
        words=tuple(
            dataclasses.replace(w, start=w.start + seg.start, end=w.end + seg.start)
            for p in parts
            for w in p.words
        ),
    )


def piece_path(resume_dir: Path, n: int) -> Path:
    return resume_dir / f"piece-{n:04d}.json"


def saved_piece(resume_dir: Path, n: int, resume_key: str, language: str | None) -> dict | None:
    """Piece ``n``'s saved result when it was decoded with the same model and options, else None."""
    saved = piece_path(resume_dir, n)
    state = json.loads(saved.read_text()) if saved.exists() else None
    if state is None or state["key"] != resume_key or (language and state["language"] != language):
        return None
    return state


def piece_state(part: Recognition, resume_key: str) -> dict:
    """What is saved of one decoded piece (and what a cluster worker sends back)."""
    return {
        "key": resume_key,
        "language": part.language,
        "detected": part.detected,
        "segments": [asdict(s) for s in part.segments],
    }


def transcribe_file(
    engine,
    wav: Path,
    language: str | None,
    *,
    resume_dir: Path,
    resume_key: str,
    progress: Callable[[float], None] | None = None,
    chunk_seconds: float = 600,
    options: DecodeOptions = DecodeOptions(),
    initial_prompt: str | None = None,
) -> Recognition:
    """Transcribe a long WAV piece by piece, saving each piece's segments as it is done.

    A run that was killed picks up after the last saved piece (when ``resume_key``, which
    names the model and options, is unchanged) instead of starting over.
    """
    from . import media

    total = max(media.wav_seconds(wav), 1e-6)
    pieces = []
    resume_dir.mkdir(parents=True, exist_ok=True)
    for n, (offset, audio) in enumerate(media.wav_chunks(wav, chunk_seconds)):
        state = saved_piece(resume_dir, n, resume_key, language)
        if state is None:
            report = (
                (
                    lambda f, o=offset, d=len(audio) / media.SAMPLE_RATE: progress(
                        (o + f * d) / total
                    )
                )
                if progress
                else None
            )
            recognition = transcribe(
                engine, audio, language, options, progress=report, initial_prompt=initial_prompt
            )
            state = piece_state(recognition, resume_key)
            write_atomic(piece_path(resume_dir, n), json.dumps(state, ensure_ascii=False))
        else:
            log.info("resuming after piece %d of %s", n, wav)
        language = language or state["language"]
        pieces.append((offset, state))
    if progress:
        progress(1.0)
    return assemble(wav, pieces, language, options.native)


def assemble(
    wav: Path, pieces: list[tuple[float, dict]], language: str, native: tuple[str, ...] = DETECTABLE
) -> Recognition:
    """One recognition from the pieces' saved results (``(offset seconds, state)`` in order)."""
    detected, segments = None, []
    for offset, state in pieces:
        detected = detected or state["detected"]
        for seg in map(lambda d: Segment(**d), state["segments"]):
            seg.id = len(segments) + 1
            seg.start, seg.end = round(seg.start + offset, 3), round(seg.end + offset, 3)
            seg.words = [
                {**w, "start": round(w["start"] + offset, 3), "end": round(w["end"] + offset, 3)}
                for w in seg.words
            ]
            segments.append(seg)
    warnings = []
    labels, weights = (
        [language_check.label(s.text) for s in segments],
        [s.end - s.start for s in segments],
    )
    if detected is not None:  # nobody gave the language, and Whisper cannot detect Kyrgyz
        warning = language_check.maybe_kyrgyz_warning(detected, labels, weights)
    elif language in native:  # text decoded through a stand-in proves nothing
        warning = language_check.mismatch_warning(language, labels, weights)
    else:
        warning = None
    if warning:
        warnings.append(warning)
        log.warning("language check on %s: %s", wav.name, warning)
    return Recognition(language=language, detected=detected, segments=segments, warnings=warnings)
