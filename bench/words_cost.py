"""Where the time that word times and speakers add to a transcription goes.

    python bench/words_cost.py /tmp/speed/interview.wav [--language kk]

``testimony bench speakers --overhead`` compares transcription without word times against
transcription with word times and speakers. The difference is not only the word times: with
them, the pipeline can see where the decoder looped and what it skipped, and decodes that
speech again. This script separates the parts in one process, with the settings of
TESTIMONY_HOME: the bare engine with and without word times (faster-whisper only, the call
``bench/overhead.py`` times), the pipeline without word times,
with them but without decoding again the speech under loops (``recovery.transcribed_spans``
switched off, as ``bench/ablation.py`` switches measures off), with both (the default), and
the speaker step. For each pipeline run it counts the decodings after the first.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from overhead import bare_faster_segments  # noqa: E402  (this folder: the bare call overhead.py times)

from pipeline import asr, media, recovery, speakers  # noqa: E402
from pipeline.console import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "audio", type=Path, help="a 16 kHz mono WAV (bench/make_interview.py writes one)"
    )
    parser.add_argument("--language", default="kk")
    args = parser.parse_args()
    settings = load_settings()
    engine, _, _, model_name = asr.load_engine(settings, language=args.language)
    options = asr.decode_options(settings, asr.native_languages(settings, model_name))
    audio = media.load_wav(args.audio)
    decoded, decode = [], engine.decode

    def counted(piece, *a, **kw):
        t0 = time.monotonic()
        out = decode(piece, *a, **kw)
        decoded.append((len(piece) / media.SAMPLE_RATE, time.monotonic() - t0))
        return out

    engine.decode = counted
    for words in (False, True) if engine.name == "faster-whisper" else ():
        t0 = time.monotonic()
        windows = len(
            {
                s.seek
                for s in bare_faster_segments(engine, audio, args.language, word_timestamps=words)
            }
        )
        print(
            f"bare engine, word times {'on ' if words else 'off'}: {time.monotonic() - t0:6.1f} s, {windows} windows"
        )
    spans = recovery.transcribed_spans
    runs = {}
    for label, words, loops in (
        ("pipeline, word times off", False, True),
        ("pipeline, word times on, loops not decoded again", True, False),
        ("pipeline, word times on (default)", True, True),
    ):
        recovery.transcribed_spans = spans if loops else (lambda seg: [(seg.start, seg.end)])
        decoded.clear()
        t0 = time.monotonic()
        result = asr.transcribe(engine, audio, args.language, options, words=words)
        runs[label] = time.monotonic() - t0
        again = decoded[1:]
        print(
            f"{label}: {runs[label]:6.1f} s, {sum(len(s.text.split()) for s in result.segments)} words; "
            f"decoded again: {len(again)} stretches, {sum(a for a, _ in again):.0f} s of audio, "
            f"{sum(t for _, t in again):.1f} s"
        )
    recovery.transcribed_spans = spans
    t0 = time.monotonic()
    speakers.diarise(audio, result.segments)
    took = time.monotonic() - t0
    plain = runs["pipeline, word times off"]
    print(f"speaker step: {took:.1f} s ({took / plain:+.1%})")
    print(
        f"added to the pipeline without word times: word times {runs['pipeline, word times on, loops not decoded again'] / plain - 1:+.1%}, "
        f"word times and loops decoded again {runs['pipeline, word times on (default)'] / plain - 1:+.1%}, "
        f"all with speakers {(runs['pipeline, word times on (default)'] + took) / plain - 1:+.1%}"
    )


if __name__ == "__main__":
    main()
