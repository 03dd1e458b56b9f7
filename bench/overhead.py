"""The pipeline's own cost over the bare engines, side by side in one run, with a profile.

    python bench/overhead.py /tmp/speed/interview.wav [--reference /tmp/speed/interview.tsv]
                             [--seconds 0] [--language kk] [--threads 2]
                             [--engines openai-whisper,faster-whisper] [--batch-sizes 0]
                             [--profile] [--without-vad]

For each engine, with the embedded base model, decodes a 16 kHz mono
WAV (bench/make_interview.py's 10-minute interview) twice with the *same decoding options*
(greedy, no conditioning on the previous window, Cyrillic-only tokens, word timestamps, no
no-speech skipping): once with the bare sequential library call (``whisper.transcribe`` or
``WhisperModel.transcribe``), once with :func:`pipeline.asr.transcribe` with its defaults
(batched windows for faster-whisper, voice activity cut, skipped speech decoded again, loop
guard, flags, the per-segment language check that decodes a Russian passage again), and with
``--profile`` once more under cProfile, in a run of its own. It also runs the pipeline at each
``--batch-sizes`` (``[asr] batch_size``; 0 is window after window) and, for faster-whisper, its
bare ``BatchedInferencePipeline`` at each size above 1. Prints wall times, the ratio to the bare
call, the word error rate of each
run against ``--reference`` (textnorm, as ``testimony bench asr``), and where the pipeline's
time went outside the decoder.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import asr, engines, media, models, textnorm  # noqa: E402


def word_error_rate(reference: str | None, texts: list[str], language: str) -> str:
    if reference is None:
        return "-"
    ref = textnorm.normalize(reference, language).split()
    hyp = textnorm.normalize(" ".join(texts), language).split()
    return f"{textnorm.edit_distance(ref, hyp) / max(len(ref), 1):.3f}"


def bare_openai(engine, audio, language: str) -> list[str]:
    import whisper

    from pipeline.engines.openai_whisper import _foreign_ids

    result = whisper.transcribe(
        engine.model,
        audio,
        language=language,
        fp16=False,
        verbose=None,
        condition_on_previous_text=False,
        temperature=(0.0,),
        no_speech_threshold=None,
        suppress_tokens=[-1, *_foreign_ids()],
        word_timestamps=True,
    )
    return [s["text"] for s in result["segments"]]


def bare_faster_segments(engine, audio, language: str, word_timestamps: bool = True) -> list:
    """``WhisperModel.transcribe`` with the pipeline's decoding options, its segments decoded."""
    segments, _ = engine.model.transcribe(
        audio,
        language=language,
        beam_size=1,
        temperature=[0.0],
        condition_on_previous_text=False,
        vad_filter=False,
        no_speech_threshold=None,
        suppress_tokens=[-1, *engine._foreign_ids()],
        word_timestamps=word_timestamps,
    )
    return list(segments)


def bare_faster(engine, audio, language: str) -> list[str]:
    return [s.text for s in bare_faster_segments(engine, audio, language)]


def batched_faster(engine, audio, language: str, batch_size: int) -> list[str]:
    from faster_whisper import BatchedInferencePipeline

    segments, _ = BatchedInferencePipeline(engine.model).transcribe(
        audio,
        language=language,
        beam_size=1,
        temperature=[0.0],
        condition_on_previous_text=False,
        no_speech_threshold=None,
        suppress_tokens=[-1, *engine._foreign_ids()],
        word_timestamps=True,
        batch_size=batch_size,
        vad_parameters={"min_silence_duration_ms": 2000, "speech_pad_ms": 1000},
    )
    return [s.text for s in segments]


def pipeline(
    engine, audio, language: str, batch_size: int = engines.DEFAULT_BATCH_SIZE, vad: bool = True
) -> list[str]:
    options = asr.DecodeOptions(fallback=False, vad=vad, beam_size=1, batch_size=batch_size)
    return [s.text for s in asr.transcribe(engine, audio, language, options).segments]


def timed(function, *args) -> tuple[float, list[str]]:
    start = time.perf_counter()
    texts = function(*args)
    seconds = time.perf_counter() - start
    print(f"{function.__name__} ({args[0].name}): {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", type=Path)
    parser.add_argument(
        "--reference", type=Path, help="a references TSV whose one row is the audio's transcript"
    )
    parser.add_argument(
        "--seconds", type=float, default=0, help="only the first this many seconds (0: all)"
    )
    parser.add_argument("--language", default="kk")
    parser.add_argument("--threads", type=int, default=0, help="0: every core")
    parser.add_argument("--engines", default="faster-whisper,openai-whisper")
    parser.add_argument(
        "--batch-sizes",
        default="0",
        help="also the pipeline at these batch sizes "
        "(0: window after window), and faster-whisper's own batched call at each "
        "above 1",
    )
    parser.add_argument(
        "--profile", action="store_true", help="then profile the pipeline in a run of its own"
    )
    parser.add_argument(
        "--without-vad",
        action="store_true",
        help="also the pipeline with vad off: its own cost without the decoding voice activity adds",
    )
    args = parser.parse_args()
    audio = media.load_wav(args.audio)
    if args.seconds:
        audio = audio[: int(args.seconds * media.SAMPLE_RATE)]
    reference = None
    if args.reference and not args.seconds:  # the reference covers the whole file only
        with open(args.reference, encoding="utf-8", newline="") as fh:
            reference = next(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[
                "transcript"
            ]
    rows, profiles = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.engines.split(","):
            ct2 = models.assemble_embedded_ct2(Path(tmp) / "base-ct2")
            path = ct2 if name == "faster-whisper" else Path(tmp) / "base.pt"
            if not path.exists():
                models.convert_ct2_to_checkpoint(ct2, path, models.BASE_DIMS)
            engine = engines.load(name, str(path), threads=args.threads)
            bare = bare_faster if name == "faster-whisper" else bare_openai
            bare(
                engine, audio[: 5 * media.SAMPLE_RATE], args.language
            )  # warm up: first-call costs are not decoding
            seconds, texts = timed(bare, engine, audio, args.language)
            rows.append(
                (
                    name,
                    "bare library call",
                    seconds,
                    word_error_rate(reference, texts, args.language),
                )
            )
            seconds, texts = timed(pipeline, engine, audio, args.language)
            default = f"pipeline (asr.transcribe), default batch_size {engines.DEFAULT_BATCH_SIZE}"
            rows.append((name, default, seconds, word_error_rate(reference, texts, args.language)))
            if args.without_vad:
                seconds, texts = timed(
                    pipeline, engine, audio, args.language, engines.DEFAULT_BATCH_SIZE, False
                )
                rows.append(
                    (
                        name,
                        "pipeline, vad off (no silence cut, no skipped-speech decoding)",
                        seconds,
                        word_error_rate(reference, texts, args.language),
                    )
                )
            if args.profile:  # a run of its own: the profiler's cost is not the pipeline's
                profiles[name] = cProfile.Profile()
                profiles[name].runcall(pipeline, engine, audio, args.language)
            if name == "faster-whisper":
                for size in map(int, filter(None, args.batch_sizes.split(","))):
                    if size > 1:
                        seconds, texts = timed(batched_faster, engine, audio, args.language, size)
                        run = f"bare BatchedInferencePipeline, batch_size {size}"
                        rows.append(
                            (name, run, seconds, word_error_rate(reference, texts, args.language))
                        )
                    seconds, texts = timed(pipeline, engine, audio, args.language, size)
                    rows.append(
                        (
                            name,
                            f"pipeline, batch_size {size}",
                            seconds,
                            word_error_rate(reference, texts, args.language),
                        )
                    )
    print(
        f"{len(audio) / media.SAMPLE_RATE:.0f} s of audio, base, greedy, --language {args.language}, "
        f"threads {args.threads or 'all'}\n"
    )
    print("| engine | run | seconds | ratio to bare | WER |\n|---|---|---|---|---|")
    bare_s = {}
    for name, run, seconds, wer in rows:
        bare_s.setdefault(name, seconds)
        print(f"| {name} | {run} | {seconds:.1f} | {seconds / bare_s[name]:.3f} | {wer} |")
    for name, profile in profiles.items():
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(
            r"pipeline/|faster_whisper/(vad|transcribe)|whisper/(transcribe|timing)", 25
        )
        print(f"\nWhere the pipeline's time went, {name}:\n" + out.getvalue())


if __name__ == "__main__":
    main()
