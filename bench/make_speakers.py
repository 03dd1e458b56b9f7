"""Build the speaker benchmark's conversations from the evaluation clips (kept outside the repository).

    python bench/make_speakers.py ../shared/evaldata /tmp/speakers

Three voices that are known apart: the Kazakh clips 1-10 (one comedian's video), the Kazakh
clips 17-24 but 20 (the interviewee of an interview; clip 20 is the interviewer's question,
a fourth voice) and the Russian Golos clips (each one reader). They
are alternated into two- and three-speaker conversations, 16 kHz mono, with pauses of 0.4 to
1.5 s between turns (seeded, so the set is the same every time). Writes one WAV per
conversation and ``refs2.tsv`` / ``refs3.tsv``: one row per reference turn (``file``,
``start``, ``end``, ``speaker``), the format ``testimony bench speakers`` reads.
"""

from __future__ import annotations

import csv
import sys
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline import media  # noqa: E402

RATE = 16000
COMEDIAN = [f"kk/kaz_codeswitch/kzaudio_{i}.wav" for i in range(1, 11)]
# Clip 20 is the interviewer's question ("...сіз тиктокқа шығасыз..."), another voice: left out.
INTERVIEW = [f"kk/kaz_codeswitch/kzaudio_{i}.wav" for i in range(17, 25) if i != 20]
GOLOS = [f"ru/golos_gigastt/golos_{i:02d}.wav" for i in range(8)]


def _load(evaldata: Path, rel: str, work: Path) -> np.ndarray:
    wav = work / (Path(rel).stem + ".16k.wav")
    if not wav.exists():
        media.extract_audio(evaldata / rel, wav)
    return media.load_wav(wav)


def conversations() -> dict[str, list[tuple[str, str]]]:
    """Name -> (voice, clip) turns in order."""
    convs = {}
    for n in range(4):  # two voices taking turns, four each
        a = [COMEDIAN[(2 * n + k) % len(COMEDIAN)] for k in range(4)]
        b = [INTERVIEW[(2 * n + k) % len(INTERVIEW)] for k in range(4)]
        convs[f"two-{n + 1}"] = [turn for pair in zip(a, b) for turn in (("A", pair[0]), ("B", pair[1]))]
    for n in range(4):  # three voices: the Golos reader says the same query twice between the others
        a = [COMEDIAN[(2 * n + k + 1) % len(COMEDIAN)] for k in range(3)]
        b = [INTERVIEW[(2 * n + k + 1) % len(INTERVIEW)] for k in range(3)]
        c = GOLOS[2 * n]
        convs[f"three-{n + 1}"] = [("A", a[0]), ("B", b[0]), ("C", c), ("A", a[1]), ("B", b[1]),
                                   ("A", a[2]), ("C", c), ("B", b[2])]
    return convs


def main(evaldata: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "clips"
    work.mkdir(exist_ok=True)
    rng = np.random.default_rng(15)
    rows: dict[str, list[list]] = {"refs2.tsv": [], "refs3.tsv": []}
    for name, turns in conversations().items():
        pieces, position = [], 0.0
        for voice, clip in turns:
            pause = np.zeros(int(rng.uniform(0.4, 1.5) * RATE), np.float32)
            audio = _load(evaldata, clip, work)
            pieces += [pause, audio]
            position += len(pause) / RATE
            rows["refs2.tsv" if name.startswith("two") else "refs3.tsv"].append(
                [f"{name}.wav", f"{position:.3f}", f"{position + len(audio) / RATE:.3f}", voice])
            position += len(audio) / RATE
        pieces.append(np.zeros(RATE // 2, np.float32))
        samples = np.clip(np.concatenate(pieces) * 32767, -32768, 32767).astype("<i2")
        with wave.open(str(out / f"{name}.wav"), "wb") as fh:
            fh.setnchannels(1)
            fh.setsampwidth(2)
            fh.setframerate(RATE)
            fh.writeframes(samples.tobytes())
    for tsv, lines in rows.items():
        with open(out / tsv, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
            writer.writerow(["file", "start", "end", "speaker"])
            writer.writerows(lines)
    print(f"wrote {len(conversations())} conversations and refs2.tsv, refs3.tsv to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/make_speakers.py EVALDATA_DIR OUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
