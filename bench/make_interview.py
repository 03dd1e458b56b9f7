"""Build the speed benchmark's inputs from the Kazakh dev clips (kept outside the repository).

    python bench/make_interview.py ../shared/evaldata/kk /tmp/speed

writes ``longest.tsv`` (the six longest clips, absolute paths) and ``interview.wav`` with
``interview.tsv``: a 10-minute, 16 kHz mono "interview" of the clips, longest first and
repeated, joined by 2-second pauses of quiet room noise, as an interviewer's silences are.
Both TSVs are in the references format that ``testimony bench asr`` reads.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline import media  # noqa: E402

MINUTES, PAUSE_S, LONGEST = 10, 2.0, 6


def main(evaldata_kk: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(evaldata_kk / "references.tsv", encoding="utf-8", newline="") as fh:
        rows = sorted(
            csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE),
            key=lambda r: -float(r["duration_s"]),
        )
    with open(out / "longest.tsv", "w", encoding="utf-8") as fh:
        fh.write("file\ttranscript\n")
        for row in rows[:LONGEST]:
            fh.write(f"{(evaldata_kk / row['file']).resolve()}\t{row['transcript']}\n")
    rng = np.random.default_rng(0)
    pieces, texts, total = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        while total < MINUTES * 60:
            for row in rows:
                wav = Path(tmp) / "clip.wav"
                total += media.extract_audio(evaldata_kk / row["file"], wav) + PAUSE_S
                pieces += [
                    media.load_wav(wav),
                    rng.normal(0, 0.002, int(PAUSE_S * media.SAMPLE_RATE)).astype(np.float32),
                ]
                texts.append(row["transcript"])
                if total >= MINUTES * 60:
                    break
    audio = np.clip(np.concatenate(pieces), -1, 1)
    with wave.open(str(out / "interview.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(media.SAMPLE_RATE)
        w.writeframes((audio * 32767).astype("<i2").tobytes())
    (out / "interview.tsv").write_text(
        f"file\ttranscript\ninterview.wav\t{' '.join(texts)}\n", encoding="utf-8"
    )
    print(
        f"{out / 'interview.wav'}: {len(audio) / media.SAMPLE_RATE:.0f} s from {len(texts)} clips"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
