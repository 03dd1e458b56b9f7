"""``testimony bench``: how good and how fast transcription and translation are, rerunnable.

``bench asr`` runs the pipeline's own transcription (model resolution, engine, voice activity,
guards, flags, ``asr.transcribe_file``) over a references file in the format of
``shared/evaldata/*/references.tsv``; ``--baseline`` runs bare ``whisper.transcribe()`` with
the library's defaults (only the language is given) on the same model and the same 16 kHz
audio in the same run. Each system runs in a child process of its own so that its model load
time and peak memory are its own. Both sides are scored after :mod:`pipeline.textnorm`.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Optional

import typer

from . import config, textnorm
from .bench_speakers import bench_speakers
from .console import die, load_settings, require_extra

bench_app = typer.Typer(
    help="Benchmarks: transcription (WER, CER, speed) and translation (chrF, BLEU).",
    no_args_is_help=True,
)

LANGUAGES = ("kk", "ky", "ru")
HIGH_CER, LOW_CER = 0.5, 0.15  # the flag shares are reported for clips beyond these


bench_app.command("speakers")(bench_speakers)  # its own module: scoring turns needs pyannote


@bench_app.callback()
def _group() -> None:
    """Keeps `bench asr` and `bench mt` subcommands even when run on their own."""


# Transcription -------------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_system(
    system: str,
    home: str,
    engine: str | None,
    model: str | None,
    language: str,
    wavs: list[str],
    work: str,
    compute_type: str | None = None,
) -> dict:
    """Transcribe ``wavs`` with ``system`` ("pipeline" or "baseline"); runs in a child process."""
    from . import asr, media, models

    settings = config.load(Path(home))
    if compute_type:
        settings = dataclasses.replace(settings, asr_compute_type=compute_type)
    started = time.monotonic()
    if system == "pipeline":
        model_obj, path, sha, model_name = asr.load_engine(settings, engine, model, language)
        name = f"{model_obj.name} {model_obj.compute_type}"
        options = asr.decode_options(settings, asr.native_languages(settings, model_name))
    else:
        import whisper

        path, sha = models.resolve_whisper(settings, model)
        model_obj, name = whisper.load_model(path, device="cpu"), "openai-whisper (bare transcribe)"
    load_s = time.monotonic() - started
    clips = []
    for n, wav in enumerate(wavs):
        t0 = time.monotonic()
        if system == "pipeline":
            result = asr.transcribe_file(
                model_obj,
                Path(wav),
                language,
                resume_dir=Path(work) / f"{system}-{n}",
                resume_key="bench",
                options=options,
            )
            hyp = " ".join(s.text for s in result.segments)
            flagged = any(s.flags for s in result.segments)
        else:
            import whisper

            result = whisper.transcribe(
                model_obj,
                media.load_wav(Path(wav)),
                language=asr.WHISPER_STANDIN.get(language, language),
                fp16=False,
            )
            hyp, flagged = result["text"].strip(), None
        clips.append({"hyp": hyp, "wall_s": round(time.monotonic() - t0, 3), "flagged": flagged})
        print(f"  {system}: {n + 1}/{len(wavs)}", file=sys.stderr, flush=True)
    return {
        "system": name,
        "model": path,
        "model_sha256": sha,
        "load_s": round(load_s, 2),
        "peak_mb": round(_peak_mb()),
        "clips": clips,
    }


def score(rows: list[dict], result: dict, language: str) -> dict:
    """Corpus WER/CER (edits over reference length), RTF, and the flag shares."""
    word_edits = words = char_edits = chars = 0
    audio = wall = 0.0
    clips = []
    for row, clip in zip(rows, result["clips"]):
        ref, hyp = (
            textnorm.normalize(row["ref"], language),
            textnorm.normalize(clip["hyp"], language),
        )
        we, ce = textnorm.edit_distance(ref.split(), hyp.split()), textnorm.edit_distance(ref, hyp)
        word_edits, words, char_edits, chars = (
            word_edits + we,
            words + len(ref.split()),
            char_edits + ce,
            chars + len(ref),
        )
        audio, wall = audio + row["audio_s"], wall + clip["wall_s"]
        clips.append(
            {
                "file": row["file"],
                "ref": row["ref"],
                "hyp": clip["hyp"],
                "audio_s": row["audio_s"],
                "wall_s": clip["wall_s"],
                "flagged": clip["flagged"],
                "wer": round(we / max(len(ref.split()), 1), 4),
                "cer": round(ce / max(len(ref), 1), 4),
            }
        )
    figures = {k: v for k, v in result.items() if k != "clips"}
    figures.update(
        wer=round(word_edits / max(words, 1), 4),
        cer=round(char_edits / max(chars, 1), 4),
        rtf=round(wall / max(audio, 1e-9), 4),
        audio_s=round(audio, 2),
        wall_s=round(wall, 2),
    )
    if clips and clips[0]["flagged"] is not None:
        high = [c for c in clips if c["cer"] > HIGH_CER]
        low = [c for c in clips if c["cer"] < LOW_CER]
        figures["flagged_share_cer_above_0.5"] = (
            round(sum(c["flagged"] for c in high) / len(high), 4) if high else None
        )
        figures["flagged_share_cer_below_0.15"] = (
            round(sum(c["flagged"] for c in low) / len(low), 4) if low else None
        )
        figures["clips_cer_above_0.5"], figures["clips_cer_below_0.15"] = len(high), len(low)
    figures["clips"] = clips
    return figures


def _row(label: str, value, base=None, fmt="{:.3f}") -> str:
    text = "-" if value is None else fmt.format(value)
    if base is None:
        return f"{label:<34} {text:>10}"
    ratio = f"{value / base:.2f}x" if value is not None and base else "-"
    return f"{label:<34} {text:>10} {fmt.format(base):>10} {ratio:>8}"


def report(figures: dict, baseline: dict | None) -> str:
    lines = [f"{'':<34} {'pipeline':>10}" + (f" {'baseline':>10} {'ratio':>8}" if baseline else "")]
    for key, label, fmt in (
        ("wer", "WER", "{:.3f}"),
        ("cer", "CER", "{:.3f}"),
        ("rtf", "real-time factor", "{:.3f}"),
        ("wall_s", "transcription seconds", "{:.1f}"),
        ("load_s", "model load seconds", "{:.2f}"),
        ("peak_mb", "peak memory MB", "{:.0f}"),
    ):
        lines.append(_row(label, figures[key], baseline[key] if baseline else None, fmt))
    for key, label in (
        ("flagged_share_cer_above_0.5", "flagged, of clips with CER > 0.5"),
        ("flagged_share_cer_below_0.15", "flagged, of clips with CER < 0.15"),
    ):
        count = figures.get(key.replace("flagged_share", "clips"))
        value = figures.get(key)
        lines.append(f"{label:<34} {'-' if value is None else f'{value:.0%}':>10}  ({count} clips)")
    return "\n".join(lines)


@bench_app.command("asr")
def bench_asr(
    refs: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="references.tsv: file, transcript columns."
    ),
    language: str = typer.Option(..., "--language", "-l", help="kk, ky or ru."),
    engine: Optional[str] = typer.Option(
        None, help="openai-whisper or faster-whisper (default: settings)."
    ),
    model: Optional[str] = typer.Option(
        None, help="Model name (default: settings, else embedded base)."
    ),
    json_out: Optional[Path] = typer.Option(
        None, "--json", help="Write all figures and per-clip results here."
    ),
    baseline: bool = typer.Option(
        False, "--baseline", help="Also run bare whisper.transcribe() and show ratios."
    ),
    compute_type: Optional[str] = typer.Option(
        None, "--compute-type", help="auto, float32, int8, ... (default: [asr] compute_type)."
    ),
):
    """Word and character error rates, speed and memory of the pipeline's transcription."""
    from . import engines, media
    from .engines import compute

    require_extra("bench", "num2words")

    if language not in LANGUAGES:
        die(f"--language must be one of {', '.join(LANGUAGES)}")
    settings = load_settings()
    choices = compute.allowed(engine or settings.asr_engine)
    if compute_type and compute_type not in choices:
        die(f"--compute-type must be one of {', '.join(choices)}")
    if engine and engine not in engines.ENGINES:
        die(f"--engine must be one of {', '.join(engines.ENGINES)}")
    rows = textnorm.read_tsv(refs)
    if not rows or not {"file", "transcript"} <= set(rows[0]):
        die(f"{refs} needs a header with file and transcript columns")
    with tempfile.TemporaryDirectory(prefix="bench-", dir=settings.work) as work:
        wavs, clips = [], []
        for n, row in enumerate(rows):
            wav = Path(work) / f"clip-{n:04d}.wav"
            audio_s = media.extract_audio(refs.parent / row["file"], wav)
            wavs.append(str(wav))
            clips.append(
                {"file": row["file"], "ref": row["transcript"], "audio_s": round(audio_s, 3)}
            )
        systems = ["pipeline"] + (["baseline"] if baseline else [])
        results = {}
        for system in systems:
            typer.echo(
                f"{system}: {len(wavs)} clips, {sum(c['audio_s'] for c in clips):.1f} s of audio",
                err=True,
            )
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                raw = pool.submit(
                    run_system,
                    system,
                    str(settings.home),
                    engine,
                    model,
                    language,
                    wavs,
                    work,
                    compute_type,
                ).result()
            results[system] = score(clips, raw, language)
    pipeline, base = results["pipeline"], results.get("baseline")
    typer.echo(
        f"{refs} ({language}, {len(rows)} clips): {pipeline['system']} vs "
        f"{base['system'] if base else 'no baseline'}; model {pipeline['model']}"
    )
    typer.echo(report(pipeline, base))
    if json_out:
        out = {
            "refs": str(refs),
            "language": language,
            "normalisation": "pipeline/textnorm.py",
            "argv": sys.argv,
            **results,
        }
        if base:
            out["ratio"] = {
                k: round(pipeline[k] / base[k], 4) if base[k] else None
                for k in ("wer", "cer", "rtf", "wall_s", "load_s", "peak_mb")
            }
        json_out.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# Translation ---------------------------------------------------------------------------


@bench_app.command("mt")
def bench_mt(
    refs: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="TSV with src and ref_en columns."
    ),
    language: str = typer.Option(
        ..., "--language", "-l", help="kk, ky or ru: the source language."
    ),
    json_out: Optional[Path] = typer.Option(
        None, "--json", help="Write the scores and every sentence here."
    ),
):
    """chrF and BLEU (sacrebleu) of the installed translation package for LANGUAGE -> English."""
    require_extra("bench", "sacrebleu")
    import sacrebleu

    from . import translate

    if language not in LANGUAGES:
        die(f"--language must be one of {', '.join(LANGUAGES)}")
    settings = load_settings()
    translator = translate.Translator(settings)
    if not translator.available(language):
        die(translate.add_command_hint(language))
    rows = textnorm.read_tsv(refs)
    if not rows or not {"src", "ref_en"} <= set(rows[0]):
        die(f"{refs} needs a header with src and ref_en columns")
    started = time.monotonic()
    hyps = [translator.translate(row["src"], language) for row in rows]
    seconds = time.monotonic() - started
    refs_en = [row["ref_en"] for row in rows]
    chrf = sacrebleu.corpus_chrf(hyps, [refs_en]).score
    bleu = sacrebleu.corpus_bleu(hyps, [refs_en]).score
    package = translator.describe(language)
    typer.echo(f"{refs} ({language}->en, {len(rows)} sentences): package {package}")
    typer.echo(
        f"chrF {chrf:.1f}  BLEU {bleu:.1f}  ({seconds:.1f} s, sacrebleu {sacrebleu.__version__} defaults)"
    )
    if json_out:
        json_out.write_text(
            json.dumps(
                {
                    "refs": str(refs),
                    "language": language,
                    "package": package,
                    "chrf": round(chrf, 2),
                    "bleu": round(bleu, 2),
                    "seconds": round(seconds, 2),
                    "argv": sys.argv,
                    "sentences": [
                        {"src": r["src"], "ref": r["ref_en"], "hyp": h} for r, h in zip(rows, hyps)
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )


def register(app: typer.Typer, panel: str) -> None:
    """Attach these commands to the `testimony` app, under ``panel`` in its help."""
    app.add_typer(bench_app, name="bench", rich_help_panel=panel)
