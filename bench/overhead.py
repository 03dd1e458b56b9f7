"""The pipeline's own cost over the bare engine, side by side in one run, with a profile.

    python bench/overhead.py AUDIO.wav [--seconds 90] [--language kk] [--threads 1]

Decodes the first ``--seconds`` of a 16 kHz mono WAV (e.g. bench/make_interview.py's
interview.wav) twice with faster-whisper and the embedded base model, greedy: once with bare
``WhisperModel.transcribe`` (no VAD, same options), once with :func:`pipeline.asr.transcribe`
(VAD, Cyrillic-only tokens, loop guard, flags, language check) under cProfile. Prints both
wall times, their ratio, and where the pipeline's time went outside the decoder.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import asr, engines, media, models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", type=Path)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--language", default="kk")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    audio = media.load_wav(args.audio)[: int(args.seconds * media.SAMPLE_RATE)]
    with tempfile.TemporaryDirectory() as tmp:
        ct2 = models.assemble_embedded_ct2(Path(tmp) / "base-ct2")
        engine = engines.load("faster-whisper", str(ct2), threads=args.threads)
        start = time.perf_counter()
        segments, _ = engine.model.transcribe(
            audio, language=args.language, beam_size=1, best_of=5, temperature=[0.0],
            condition_on_previous_text=False, vad_filter=False, no_speech_threshold=None)
        list(segments)
        bare = time.perf_counter() - start
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        result = asr.transcribe(engine, audio, args.language, fallback=False, vad=True, beam_size=0)
        profile.disable()
        pipeline = time.perf_counter() - start
    print(f"{len(audio) / media.SAMPLE_RATE:.0f} s of audio, faster-whisper base, {args.threads} thread(s)")
    print(f"bare engine {bare:.1f} s, pipeline {pipeline:.1f} s, ratio {pipeline / bare:.3f} "
          f"({len(result.segments)} segments)")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(r"pipeline/|faster_whisper/(vad|transcribe)", 20)


if __name__ == "__main__":
    main()
