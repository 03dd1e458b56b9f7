"""Build the speaker benchmark's conversations from the evaluation clips (kept outside the repository).

    python bench/make_speakers.py ../shared/evaldata /tmp/speakers

Three voices that are known apart: the Kazakh clips 1-10 (one comedian's video), the Kazakh
clips 17-24 but 20 (the interviewee of an interview; clip 20 is the interviewer's question,
a fourth voice) and the Russian Golos clips (each one reader). They
are alternated into two- and three-speaker conversations, 16 kHz mono, with pauses of 0.4 to
1.5 s between turns (seeded, so the set is the same every time). Writes one WAV per
conversation and ``refs2.tsv`` / ``refs3.tsv``: one row per reference turn (``file``,
``start``, ``end``, ``speaker``), the format ``testimony bench speakers`` reads. A held-out set
(``refs2-held-out.tsv`` / ``refs3-held-out.tsv``: other pairings and pauses) is for checking
that what was tuned on the first set holds.
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
    """Name -> (voice, clip) turns in order: the development set."""
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


def held_out() -> dict[str, list[tuple[str, str]]]:
    """A second set, never tuned on: other clip pairings, three to five turns a voice, either
    voice first, the other Golos readers, other pauses."""
    convs = {}
    for n in range(6):
        turns = 3 + n % 3
        a = [COMEDIAN[(3 * n + k + 5) % len(COMEDIAN)] for k in range(turns)]
        b = [INTERVIEW[(3 * n + k + 3) % len(INTERVIEW)] for k in range(turns)]
        first, second = (("B", b), ("A", a)) if n % 2 else (("A", a), ("B", b))
        convs[f"two-t{n + 1}"] = [turn for pair in zip(first[1], second[1])
                                  for turn in ((first[0], pair[0]), (second[0], pair[1]))]
    for n in range(4):
        a = [COMEDIAN[(3 * n + k + 2) % len(COMEDIAN)] for k in range(3)]
        b = [INTERVIEW[(3 * n + k + 4) % len(INTERVIEW)] for k in range(3)]
        c = GOLOS[2 * n + 1]
        convs[f"three-t{n + 1}"] = [("B", b[0]), ("A", a[0]), ("C", c), ("B", b[1]), ("C", c), ("A", a[1]),
                                    ("B", b[2]), ("A", a[2])]
    return convs


def write_set(evaldata: Path, out: Path, convs: dict[str, list[tuple[str, str]]], seed: int, suffix: str) -> None:
    """One WAV per conversation and its refs2/refs3 TSVs of reference turns."""
    work = out / "clips"
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: dict[str, list[list]] = {f"refs2{suffix}.tsv": [], f"refs3{suffix}.tsv": []}
    for name, turns in convs.items():
        pieces, position = [], 0.0
        for voice, clip in turns:
            pause = np.zeros(int(rng.uniform(0.4, 1.5) * RATE), np.float32)
            audio = _load(evaldata, clip, work)
            pieces += [pause, audio]
            position += len(pause) / RATE
            rows[f"refs2{suffix}.tsv" if name.startswith("two") else f"refs3{suffix}.tsv"].append(
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


def main(evaldata: Path, out: Path) -> None:
    write_set(evaldata, out, conversations(), 15, "")
    write_set(evaldata, out, held_out(), 115, "-held-out")
    print(f"wrote {len(conversations()) + len(held_out())} conversations to {out}: refs2.tsv, refs3.tsv "
          f"(development) and refs2-held-out.tsv, refs3-held-out.tsv")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/make_speakers.py EVALDATA_DIR OUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
