"""``testimony bench protect``: how unlinkable a disguised voice is, and how clear its words stay.

Linkability is measured as the VoicePrivacy Challenge does, with a speaker-verification attack
(resemblyzer's voice encoder, cosine scores) and its equal error rate (EER): 50 % is chance,
0 % a sure link. Each clip of at least MIN_CLIP_S is cut in two halves: its first half enrols
the speaker and its second half is the trial; a target trial pairs the halves of one clip, a
non-target trial halves of clips from different source recordings (never two clips of one
recording, which may be one person). Three attackers:

- original: enrolled on originals, tested on originals (how linkable the voice is unprotected);
- ignorant: enrolled on originals, tested on disguised audio (a police file of the real voice);
- lazy-informed: enrolled on audio disguised by another export's random draw, tested
  on disguised audio (an attacker who knows the method and runs it on their own recordings).

Intelligibility is the word and character error rate of the pipeline's own transcription
(``bench asr``'s child process) on the original and on the disguised clips, per language.
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from .bench import run_system, score
from .console import die, load_settings
from .textnorm import read_tsv

MIN_CLIP_S = 4.0  # both halves must hold enough speech for the encoder (1.6 s windows)


@dataclass(frozen=True)
class Ranges:
    """The ranges the exporter's random transform is drawn from (voice.random_disguise)."""

    alpha: tuple[float, float]
    semitones: tuple[float, float]

    def draw(self):
        from .export import voice

        return voice.random_disguise(self.alpha, self.semitones)


def _range(text: str | None, default: tuple[float, float], option: str, top: float):
    """LOW:HIGH from the command line, checked to lie in [0, top)."""
    if not text:
        return default
    try:
        bounds = tuple(float(x) for x in text.split(":"))
        assert len(bounds) == 2 and 0 <= bounds[0] <= bounds[1] < top
    except (ValueError, AssertionError):
        die(f"{option} {text!r}: give LOW:HIGH with 0 <= LOW <= HIGH < {top:g}")
    return bounds


def eer(target: list[float], nontarget: list[float]) -> float:
    """Equal error rate: where the false accept and false reject rates meet."""
    from sklearn.metrics import roc_curve

    labels = [1] * len(target) + [0] * len(nontarget)
    fpr, tpr, _ = roc_curve(labels, list(target) + list(nontarget))
    fnr = 1 - tpr
    n = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[n] + fnr[n]) / 2)


def _trials(clips: list[dict]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    long = [n for n, c in enumerate(clips) if c["seconds"] >= MIN_CLIP_S]
    target = [(n, n) for n in long]
    nontarget = [(a, b) for a in long for b in long if clips[a]["group"] != clips[b]["group"]]
    return target, nontarget


def linkability(clips: list[dict], draws: int, ranges: Ranges) -> dict:
    """EER of the three attackers, pooled over ``draws`` random transforms per clip."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    from .export import voice

    encoder = VoiceEncoder("cpu", verbose=False)  # the attacker: utterance-level GE2E embeddings

    def embed(audio: np.ndarray) -> np.ndarray:
        return encoder.embed_utterance(preprocess_wav(audio, voice.SAMPLE_RATE))

    def halves(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return embed(audio[: len(audio) // 2]), embed(audio[len(audio) // 2 :])

    target, nontarget = _trials(clips)
    if not target or not nontarget:
        die(
            f"{len(target)} clips of at least {MIN_CLIP_S:g} s and {len(nontarget)} pairs of clips "
            f"from different recordings: give clips of at least two speakers, each with a "
            f"source_video or source column naming its recording"
        )
    scores: dict[str, dict[str, list[float]]] = {
        k: {"target": [], "nontarget": []} for k in ("original", "ignorant", "lazy-informed")
    }
    original = [halves(c["audio"]) for c in clips]
    cosines = []
    for draw in range(draws):
        enrol_p = [halves(voice.disguise(c["audio"], ranges.draw()))[0] for c in clips]
        trial_p = [halves(voice.disguise(c["audio"], ranges.draw()))[1] for c in clips]
        cosines += [float(original[n][1] @ trial_p[n]) for n, _ in target]
        for kind, pairs in (("target", target), ("nontarget", nontarget)):
            for a, b in pairs:
                if draw == 0:
                    scores["original"][kind].append(float(original[a][0] @ original[b][1]))
                scores["ignorant"][kind].append(float(original[a][0] @ trial_p[b]))
                scores["lazy-informed"][kind].append(float(enrol_p[a] @ trial_p[b]))
        typer.echo(f"  linkability: draw {draw + 1}/{draws}", err=True)
    return {
        "trials": {"target": len(target), "nontarget": len(nontarget), "draws": draws},
        "eer": {k: round(eer(v["target"], v["nontarget"]), 4) for k, v in scores.items()},
        "cosine_disguised_to_original_same_speaker": round(float(np.mean(cosines)), 4),
        "cosine_original_different_speakers": round(
            float(np.mean(scores["original"]["nontarget"])), 4
        ),
        "cosine_original_same_speaker": round(float(np.mean(scores["original"]["target"])), 4),
    }


def intelligibility(
    settings,
    rows: list[dict],
    clips: list[dict],
    language: str,
    work: Path,
    engine: str | None,
    model: str | None,
    ranges: Ranges,
) -> dict:
    """WER and CER of the pipeline's transcription on original and on disguised clips."""
    from .export import voice
    from .export.protect import write_wav

    work = work / language  # transcription resumes by piece number: one folder per language
    work.mkdir()
    wavs = []
    for n, clip in enumerate(clips):
        disguised = voice.disguise(clip["audio"], ranges.draw())
        for kind, audio in (("original", clip["audio"]), ("disguised", disguised)):
            path = work / f"{language}-{n:03d}-{kind}.wav"
            write_wav(path, audio)
            wavs.append(str(path))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        raw = pool.submit(
            run_system, "pipeline", str(settings.home), engine, model, language, wavs, str(work)
        ).result()
    refs = [
        {"file": r["file"], "ref": r["transcript"], "audio_s": c["seconds"]}
        for r, c in zip(rows, clips)
    ]
    out = {}
    for offset, kind in enumerate(("original", "disguised")):
        result = {**raw, "clips": raw["clips"][offset::2]}
        figures = score(refs, result, language)
        out[kind] = {"wer": figures["wer"], "cer": figures["cer"]}
    out["cer_increase"] = round(out["disguised"]["cer"] - out["original"]["cer"], 4)
    out["wer_increase"] = round(out["disguised"]["wer"] - out["original"]["wer"], 4)
    out["system"] = raw["system"]
    return out


def bench_protect(
    refs: List[Path] = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="references.tsv files (file, transcript; source_video or source).",
    ),
    draws: int = typer.Option(
        3, help="Random transforms drawn per clip for the linkability attacks."
    ),
    asr: bool = typer.Option(True, help="Also transcribe original and disguised clips (WER, CER)."),
    engine: Optional[str] = typer.Option(None, help="Transcription engine (default: settings)."),
    model: Optional[str] = typer.Option(
        None, help="Whisper model (default: settings, else embedded base)."
    ),
    alpha: Optional[str] = typer.Option(
        None, help="LOW:HIGH, the range coefficients are drawn from (default: the exporter's)."
    ),
    semitones: Optional[str] = typer.Option(
        None,
        help="LOW:HIGH, the size of the pitch shift, up or down (default: the exporter's; "
        "0:0 for none).",
    ),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write all figures here."),
):
    """Voice disguise: speaker-verification EER (linkability) and WER/CER (intelligibility)."""
    from . import media
    from .export import voice

    ranges = Ranges(
        _range(alpha, voice.ALPHA_RANGE, "--alpha", 2.0),
        _range(semitones, voice.SEMITONE_RANGE, "--semitones", 12.0),
    )
    if ranges.alpha[0] == 0:
        die(f"--alpha {alpha!r}: a coefficient must be above 0")
    settings = load_settings()
    clips, by_language = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-protect-", dir=settings.work) as tmp:
        work = Path(tmp)
        for table in refs:
            rows = read_tsv(table)
            if not rows or "file" not in rows[0]:
                die(f"{table} needs a header with a file column")
            language = table.parent.name if table.parent.name in ("kk", "ky", "ru") else "kk"
            mine = []
            for row in rows:
                wav = work / f"in-{len(clips):04d}.wav"
                seconds = media.extract_audio(table.parent / row["file"], wav)
                group = row.get("source_video") or row.get("source") or row["file"]
                mine.append(
                    {
                        "file": row["file"],
                        "audio": media.load_wav(wav),
                        "seconds": seconds,
                        "group": f"{table}:{group}",
                    }
                )
            clips += mine
            by_language[language] = (rows, mine)
        typer.echo(f"{len(clips)} clips; transform drawn per export from {ranges}", err=True)
        figures = {
            "alpha_range": list(ranges.alpha),
            "semitone_range": list(ranges.semitones),
            "linkability": linkability(clips, draws, ranges),
        }
        if asr:
            figures["intelligibility"] = {
                lang: intelligibility(settings, rows, mine, lang, work, engine, model, ranges)
                for lang, (rows, mine) in by_language.items()
                if "transcript" in rows[0]
            }
    typer.echo(report(figures))
    if json_out:
        json_out.write_text(
            json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )


def report(figures: dict) -> str:
    link = figures["linkability"]
    lines = [
        f"alpha drawn per export from {figures['alpha_range']}, a pitch shift of "
        f"{figures['semitone_range']} semitones up or down",
        f"linkability: EER of a resemblyzer speaker-verification attack "
        f"({link['trials']['target']} target, {link['trials']['nontarget']} non-target trials, "
        f"{link['trials']['draws']} draws)",
    ]
    for kind, value in link["eer"].items():
        lines.append(f"  {kind:<16} {value:>7.1%}")
    lines.append(
        "  cosine disguised-original (same speaker) "
        f"{link['cosine_disguised_to_original_same_speaker']:.3f}"
        f"; original different speakers {link['cosine_original_different_speakers']:.3f}"
    )
    for lang, item in (figures.get("intelligibility") or {}).items():
        lines.append(
            f"intelligibility {lang} ({item['system']}): WER {item['original']['wer']:.3f} -> "
            f"{item['disguised']['wer']:.3f}, CER {item['original']['cer']:.3f} -> "
            f"{item['disguised']['cer']:.3f} (increase {item['cer_increase']:+.3f})"
        )
    return "\n".join(lines)
