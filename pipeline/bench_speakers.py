"""``testimony bench speakers``: how well speaker turns and word times come out, and what they cost.

Each recording of a references file (one row per reference turn: ``file``, ``start``, ``end``,
``speaker``) goes through the pipeline's own transcription and :func:`pipeline.speakers.diarise`;
the turns are scored with the diarization error rate of ``pyannote.metrics`` (with a collar of
0.25 s either side of each reference boundary, as is usual, and without). Word times are
checked against their segments. ``--cache DIR`` keeps each recording's transcription (keyed by
the audio's SHA-256, the model and the language), so that the speaker step can be measured again
without transcribing again. Figures are given for all recordings and for each number of true
voices. ``--overhead`` also transcribes every recording without word
times or speakers, alternating with the full run, and reports the time added.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .console import die, load_settings, require_extra
from .textnorm import read_tsv

ERRORS = ("missed detection", "false alarm", "confusion")
EDGE_S = 0.3  # a segment's first and last word should start and end this close to its own bounds
JOIN_S = 0.5  # reference turns closer than this are one stand-in segment, as a recognizer joins
SEGMENT_S = 30.0  # the longest stand-in segment, as whisper's 30 s windows cut them


def word_figures(segments) -> dict:
    """Shares of segments whose words meet their bounds within EDGE_S, and of words inside."""
    timed = [s for s in segments if s.words]
    inside = sum(s.start <= w["start"] <= w["end"] <= s.end for s in timed for w in s.words)
    edges = sum(
        abs(s.words[0]["start"] - s.start) <= EDGE_S and abs(s.end - s.words[-1]["end"]) <= EDGE_S
        for s in timed
    )
    words = sum(len(s.words) for s in timed)
    return {
        "segments": len(segments),
        "segments_with_words": len(timed),
        "words": words,
        "words_inside": inside / words if words else None,
        "segments_edges_within_0.3s": edges / len(timed) if timed else None,
    }


def reference_segments(turns: list[tuple[float, float, str]], language: str = "kk") -> list:
    """Segments as a recognizer cuts them, from the reference turns instead of a transcription:
    turns less than JOIN_S apart are one segment (so a segment may hold two voices), a segment
    ends after at most SEGMENT_S, and words are evenly spaced stand-ins. Measures the speaker
    step alone, at no transcription cost; the test set is measured on real transcriptions."""
    from .transcript import Segment

    spans: list[list[float]] = []
    for start, end, _ in sorted(turns):
        if spans and start - spans[-1][1] < JOIN_S and end - spans[-1][0] <= SEGMENT_S:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    segments = []
    for start, end in spans:
        edges = np.linspace(start, end, max(int((end - start) / 0.4), 1) + 1)
        words = [
            {"start": round(a, 3), "end": round(b, 3), "text": f"w{i}", "probability": 0.9}
            for i, (a, b) in enumerate(itertools.pairwise(edges))
        ]
        segments.append(
            Segment(
                len(segments) + 1,
                start,
                end,
                language,
                " ".join(w["text"] for w in words),
                words=words,
            )
        )
    return segments


def _recognise(engine, audio, language, options, cache: Path | None, key: str):
    """The transcription's segments, from the cache when this audio was transcribed before."""
    from . import asr
    from .transcript import Segment

    digest = hashlib.sha256(f"{key}/{language}".encode() + audio.tobytes()).hexdigest()[:32]
    path = cache / f"{digest}.json" if cache else None
    if path and path.exists():
        return [Segment(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
    segments = asr.transcribe(engine, audio, language, options).segments
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps([dataclasses.asdict(s) for s in segments], ensure_ascii=False),
            encoding="utf-8",
        )
    return segments


def _table(files: list[dict]) -> list[str]:
    """One line per number of true voices, then all: DER and its parts, counts found."""
    lines = [
        "voices | recordings | DER (collar 0.25 s) | DER (no collar) | missed | false alarm | "
        "confusion | found (mean) | exact count"
    ]
    groups = sorted({f["speakers_ref"] for f in files})
    for group in groups + [None]:
        chosen = [f for f in files if group is None or f["speakers_ref"] == group]
        parts = {k: sum(f["parts"][k] for f in chosen) for k in chosen[0]["parts"]}
        bare = {k: sum(f["parts_no_collar"][k] for f in chosen) for k in chosen[0]["parts"]}
        nocollar = sum(bare[k] for k in ERRORS) / bare["total"]
        parts["error"] = sum(parts[k] for k in ERRORS)
        exact = sum(f["speakers_ref"] == f["speakers_found"] for f in chosen)
        lines.append(
            f"{group or 'all'} | {len(chosen)} | {parts['error'] / parts['total']:.1%} | "
            f"{nocollar:.1%} | {parts['missed detection'] / parts['total']:.1%} | "
            f"{parts['false alarm'] / parts['total']:.1%} | "
            f"{parts['confusion'] / parts['total']:.1%} | "
            f"{np.mean([f['speakers_found'] for f in chosen]):.2f} | "
            f"{exact}/{len(chosen)} ({exact / len(chosen):.0%})"
        )
    return lines


def _annotation(turns, uri: str):
    from pyannote.core import Annotation, Segment

    out = Annotation(uri=uri)
    for start, end, who in turns:
        out[Segment(start, end)] = who
    return out


def bench_speakers(
    refs: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="TSV with file, start, end, speaker columns: one row per reference turn.",
    ),
    speakers: Optional[int] = typer.Option(
        None, help="Give the number of speakers instead of finding it."
    ),
    language: Optional[str] = typer.Option(
        None, "--language", "-l", help="kk, ky or ru (default: detected)."
    ),
    overhead: bool = typer.Option(
        False, help="Also time transcription without word times and speakers."
    ),
    cache: Optional[Path] = typer.Option(
        None, file_okay=False, help="Keep transcriptions here and reuse them next time."
    ),
    reference: bool = typer.Option(
        False,
        "--reference-segments",
        help="Cut segments from the reference turns instead of "
        "transcribing: the speaker step alone, in seconds.",
    ),
    json_out: Optional[Path] = typer.Option(
        None, "--json", help="Write all figures and per-file turns here."
    ),
):
    """Diarization error rate, word-time checks and the time speakers and word times add."""
    require_extra("bench", "pyannote.metrics")
    from pyannote.metrics.diarization import DiarizationErrorRate

    from . import asr, media
    from . import speakers as spk

    settings = load_settings()
    # pyannote warns once a recording that it takes the evaluated extent from the two annotations
    warnings.filterwarnings("ignore", message="'uem' was approximated")
    rows = read_tsv(refs)
    if not rows or not {"file", "start", "end", "speaker"} <= set(rows[0]):
        die(
            f"{refs} needs a header with file, start, end and speaker columns (bench/make_speakers.py writes one)"
        )
    if overhead and cache:
        die("--overhead times transcription, so it cannot reuse a --cache: give one or the other")
    if overhead and reference:
        die("--overhead times transcription: it cannot be given with --reference-segments")
    truth: dict[str, list] = defaultdict(list)
    for row in rows:
        truth[row["file"]].append((float(row["start"]), float(row["end"]), row["speaker"]))
    if not reference:
        engine, _, sha, model_name = asr.load_engine(settings, language=language)
        native = asr.native_languages(settings, model_name)
        options = asr.decode_options(settings, native)
    files, times, all_segments = [], defaultdict(float), []
    with tempfile.TemporaryDirectory(prefix="bench-", dir=settings.work) as work:
        for n, (name, turns) in enumerate(truth.items()):
            wav = Path(work) / f"rec-{n:04d}.wav"
            audio_s = media.extract_audio(refs.parent / name, wav)
            audio = media.load_wav(wav)
            if overhead:
                t0 = time.monotonic()
                asr.transcribe(engine, audio, language, options, words=False)
                times["plain_s"] += time.monotonic() - t0
            t0 = time.monotonic()
            recognised = (
                reference_segments(turns)
                if reference
                else _recognise(engine, audio, language, options, cache, f"{model_name}/{sha}")
            )
            t1 = time.monotonic()
            segments, info = spk.diarise(audio, recognised, speakers)
            t2 = time.monotonic()
            times["words_s"] += t1 - t0
            times["speakers_s"] += t2 - t1
            hyp = _annotation([(s.start, s.end, s.speaker or "?") for s in segments], name)
            ref = _annotation(turns, name)
            collar, bare = DiarizationErrorRate(collar=0.5), DiarizationErrorRate(collar=0.0)
            parts, parts_bare = collar(ref, hyp, detailed=True), bare(ref, hyp, detailed=True)
            all_segments += segments
            voices = len({t[2] for t in turns})
            files.append(
                {
                    "file": name,
                    "audio_s": round(audio_s, 2),
                    "speakers_ref": voices,
                    "speakers_found": info["count"],
                    "parts": parts,
                    "parts_no_collar": parts_bare,
                    "close": info.get("close"),
                    "turns": [(s.start, s.end, s.speaker) for s in segments],
                }
            )
            typer.echo(
                f"  {name}: {voices} voices, {info['count']} found, "
                f"DER {parts['diarization error rate']:.1%}",
                err=True,
            )
    words = word_figures(all_segments)
    source = "segments from the reference turns" if reference else f"{engine.name} {model_name}"
    typer.echo(
        f"{refs}: {len(files)} recordings, {sum(f['audio_s'] for f in files):.0f} s; "
        f"{source}; speaker model {info['model']} {info['version']}; "
        f"speaker step {info.get('method', '')}"
    )
    for line in _table(files):
        typer.echo(line)
    typer.echo(
        "(missed: speech with no transcript segment; false alarm: a segment over silence; "
        "confusion: the wrong speaker; shares of reference speech, collar 0.25 s)"
    )
    typer.echo(
        f"word times: {words['words_inside']:.1%} of {words['words']} words inside their segment; "
        f"{words['segments_edges_within_0.3s']:.1%} of {words['segments_with_words']} segments' "
        f"first and last words within {EDGE_S} s of its bounds"
        if words["words"]
        else "no word times"
    )
    typer.echo(
        f"time: transcription {times['words_s']:.1f} s{' (cached)' if cache else ''}, "
        f"speakers {times['speakers_s']:.1f} s"
    )
    if overhead:
        full = times["words_s"] + times["speakers_s"]
        typer.echo(
            f"time: {times['plain_s']:.1f} s without, {full:.1f} s with word times and speakers "
            f"(speakers {times['speakers_s']:.1f} s): {full / times['plain_s'] - 1:+.1%}"
        )
    if json_out:
        json_out.write_text(
            json.dumps(
                {
                    "refs": str(refs),
                    "argv": sys.argv,
                    "table": _table(files),
                    "words": words,
                    "times_s": dict(times),
                    "speaker_model": info,
                    "files": files,
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
