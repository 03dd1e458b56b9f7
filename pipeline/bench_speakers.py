"""``testimony bench speakers``: how well speaker turns and word times come out, and what they cost.

Each recording of a references file (one row per reference turn: ``file``, ``start``, ``end``,
``speaker``) goes through the pipeline's own transcription and :func:`pipeline.speakers.diarise`;
the turns are scored with the diarization error rate of ``pyannote.metrics`` (with a collar of
0.25 s either side of each reference boundary, as is usual, and without). Word times are
checked against their segments. ``--overhead`` also transcribes every recording without word
times or speakers, alternating with the full run, and reports the time added.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import typer

from .textnorm import read_tsv
from .console import die, load_settings, require_extra

EDGE_S = 0.3  # a segment's first and last word should start and end this close to its own bounds


def word_figures(segments) -> dict:
    """Shares of segments whose words meet their bounds within EDGE_S, and of words inside."""
    timed = [s for s in segments if s.words]
    inside = sum(s.start <= w["start"] <= w["end"] <= s.end for s in timed for w in s.words)
    edges = sum(abs(s.words[0]["start"] - s.start) <= EDGE_S and abs(s.end - s.words[-1]["end"]) <= EDGE_S
                for s in timed)
    words = sum(len(s.words) for s in timed)
    return {"segments": len(segments), "segments_with_words": len(timed), "words": words,
            "words_inside": inside / words if words else None,
            "segments_edges_within_0.3s": edges / len(timed) if timed else None}


def _annotation(turns, uri: str):
    from pyannote.core import Annotation, Segment

    out = Annotation(uri=uri)
    for start, end, who in turns:
        out[Segment(start, end)] = who
    return out


def bench_speakers(
    refs: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="TSV with file, start, end, speaker columns: one row per reference turn."),
    speakers: Optional[int] = typer.Option(None, help="Give the number of speakers instead of finding it."),
    threshold: Optional[float] = typer.Option(None, help="Clustering distance threshold (default: the pipeline's)."),
    language: Optional[str] = typer.Option(None, "--language", "-l", help="kk, ky or ru (default: detected)."),
    overhead: bool = typer.Option(False, help="Also time transcription without word times and speakers."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write all figures and per-file turns here."),
):
    """Diarization error rate, word-time checks and the time speakers and word times add."""
    require_extra("bench", "pyannote.metrics")
    from pyannote.metrics.diarization import DiarizationErrorRate

    from . import asr, media, speakers as spk

    settings = load_settings()
    rows = read_tsv(refs)
    if not rows or not {"file", "start", "end", "speaker"} <= set(rows[0]):
        die(f"{refs} needs a header with file, start, end and speaker columns (bench/make_speakers.py writes one)")
    reference: dict[str, list] = defaultdict(list)
    for row in rows:
        reference[row["file"]].append((float(row["start"]), float(row["end"]), row["speaker"]))
    engine, _, sha, model_name = asr.load_engine(settings, language=language)
    options = {**asr.decode_options(settings), "native": asr.native_languages(settings, model_name)}
    metrics = {"collar 0.25 s": DiarizationErrorRate(collar=0.5), "no collar": DiarizationErrorRate(collar=0.0)}
    files, times, all_segments = [], defaultdict(float), []
    with tempfile.TemporaryDirectory(prefix="bench-", dir=settings.work) as work:
        for n, (name, turns) in enumerate(reference.items()):
            wav = Path(work) / f"rec-{n:04d}.wav"
            audio_s = media.extract_audio(refs.parent / name, wav)
            audio = media.load_wav(wav)
            if overhead:
                t0 = time.monotonic()
                asr.transcribe(engine, audio, language, **{**options, "words": False})
                times["plain_s"] += time.monotonic() - t0
            t0 = time.monotonic()
            recognition = asr.transcribe(engine, audio, language, **options)
            t1 = time.monotonic()
            segments, info = spk.diarise(audio, recognition.segments, speakers,
                                         spk.THRESHOLD if threshold is None else threshold)
            t2 = time.monotonic()
            times["words_s"] += t1 - t0
            times["speakers_s"] += t2 - t1
            hyp = _annotation([(s.start, s.end, s.speaker or "?") for s in segments], name)
            ref = _annotation(turns, name)
            scores = {label: m(ref, hyp) for label, m in metrics.items()}
            all_segments += segments
            files.append({"file": name, "audio_s": round(audio_s, 2), "speakers_ref": len({t[2] for t in turns}),
                          "speakers_found": info["count"], "der": scores,
                          "turns": [(s.start, s.end, s.speaker) for s in segments]})
            typer.echo(f"  {name}: {len({t[2] for t in turns})} voices, {info['count']} found, "
                       f"DER {scores['collar 0.25 s']:.1%}", err=True)
    totals = {label: abs(m) for label, m in metrics.items()}
    parts = metrics["collar 0.25 s"].accumulated_  # seconds of reference speech, and of each error
    shares = {k: parts[k] / parts["total"] for k in ("confusion", "missed detection", "false alarm")}
    words = word_figures(all_segments)
    typer.echo(f"{refs}: {len(files)} recordings, {sum(f['audio_s'] for f in files):.0f} s; "
               f"{engine.name} {model_name}; speaker model {info['model']} {info['version']}")
    typer.echo(f"DER {totals['collar 0.25 s']:.1%} (collar 0.25 s), {totals['no collar']:.1%} (no collar); "
               f"speaker count right in {sum(f['speakers_ref'] == f['speakers_found'] for f in files)}"
               f"/{len(files)}")
    typer.echo(f"  of which: wrong speaker {shares['confusion']:.1%}, speech with no transcript segment "
               f"{shares['missed detection']:.1%}, segment over silence {shares['false alarm']:.1%}")
    typer.echo(f"word times: {words['words_inside']:.1%} of {words['words']} words inside their segment; "
               f"{words['segments_edges_within_0.3s']:.1%} of {words['segments_with_words']} segments' "
               f"first and last words within {EDGE_S} s of its bounds" if words["words"] else "no word times")
    if overhead:
        full = times["words_s"] + times["speakers_s"]
        typer.echo(f"time: {times['plain_s']:.1f} s without, {full:.1f} s with word times and speakers "
                   f"(speakers {times['speakers_s']:.1f} s): {full / times['plain_s'] - 1:+.1%}")
    if json_out:
        json_out.write_text(json.dumps({"refs": str(refs), "argv": sys.argv, "der": totals, "der_parts": shares, "words": words,
                                        "times_s": dict(times), "speaker_model": info, "files": files},
                                       ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
