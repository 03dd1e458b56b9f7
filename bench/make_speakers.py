"""Build the speaker benchmark: tuning, validation and test conversations from disjoint pools.

    python bench/make_speakers.py ../shared/evaldata /tmp/speakers

Each set draws its voices from its own pool of recordings, so that nothing tuned on the tuning
set has heard a recording of the validation or test set (see ``POOLS``). Real speech is scarce:
the evaluation data hold two long voices (a comedian, kk clips 1-10; an interviewee, kk clips
17-24 but 20), one short one (the interviewer's question, clip 20), eight Golos readers
(2-5 s each) and two further Russian clips. So each pool also has:

- a *derived* voice: one of its real voices played 11 % slower (``sox speed 0.89``), which
  lowers pitch and formants; speaker-recognition recipes treat such copies as new speakers;
- synthetic voices: espeak-ng variants reading NTREX sentences, each pool its own variants
  and its own sentences.

The comedian is split by clips between tuning (1-5) and validation (6-10): disjoint recordings,
one speaker. The test pool holds the only real interview (interviewee and interviewer), never
used by the other two. Conversations (seeded, the same every time): 2-4 voices, at least 8 s
of speech each, turns of 1-40 s
(a short recording's voice gets turns no longer than 1.5 times its material), pauses of
0.2-2 s, one change in five an overlap of up to 0.5 s, and each voice behind its own
"microphone" per conversation: band limits, level (-14 to +2 dB) and sometimes a room (sox),
plus background noise at 20-40 dB SNR. Writes ``OUT/{tuning,validation,test}/conv-NN.wav`` and
``refs.tsv`` in each folder (``file``, ``start``, ``end``, ``speaker``: the format
``testimony bench speakers`` reads), and ``pools.tsv`` naming every voice's recordings.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000
SEED = 26
CONVERSATIONS = {2: 14, 3: 10, 4: 6}  # voices -> conversations in each set (30 a set)
TURNS = (6, 10)  # turns a conversation at least, inclusive
MIN_VOICE_S = 8.0  # each voice speaks this long in all: turns added till it does
TURN_S = (1.0, 40.0)  # turn length, drawn log-uniformly
PAUSE_S = (0.2, 2.0)
OVERLAP_S = 0.5
OVERLAP_SHARE = 0.2
KK = "kk/kaz_codeswitch/kzaudio_{}.wav"
GOLOS = "ru/golos_gigastt/golos_{:02d}.wav"


@dataclass(frozen=True)
class Voice:
    """One speaker: real clips (paths under evaldata), or espeak-ng text; played at ``speed``."""

    name: str
    clips: tuple[str, ...] = ()
    espeak: str = ""  # espeak-ng voice, e.g. "ru+m3"
    sentences: tuple[str, int, int] = ("", 0, 0)  # NTREX file, first and last line read
    speed: float = 1.0


POOLS: dict[str, list[Voice]] = {
    "tuning": [
        Voice("comedian-a", tuple(KK.format(i) for i in range(1, 6))),
        Voice("comedian-a-slow", tuple(KK.format(i) for i in range(1, 6)), speed=0.89),
        *[Voice(f"golos-{i}", (GOLOS.format(i),)) for i in range(3)],
        Voice("coqui", ("ru/misc/coqui_stt_smoke_ru.wav",)),
        Voice("espeak-ru-m1", espeak="ru+m1", sentences=("ntrex128_ru.tsv", 0, 30)),
        Voice("espeak-kk-f1", espeak="kk+f1", sentences=("ntrex128_kk.tsv", 0, 30)),
        Voice("espeak-ru-m3", espeak="ru+m3", sentences=("ntrex128_ru.tsv", 30, 60)),
    ],
    "validation": [
        Voice("comedian-b", tuple(KK.format(i) for i in range(6, 11))),
        Voice("comedian-b-slow", tuple(KK.format(i) for i in range(6, 11)), speed=0.89),
        *[Voice(f"golos-{i}", (GOLOS.format(i),)) for i in range(3, 6)],
        Voice("espeak-ru-f2", espeak="ru+f2", sentences=("ntrex128_ru.tsv", 60, 90)),
        Voice("espeak-kk-m2", espeak="kk+m2", sentences=("ntrex128_kk.tsv", 60, 90)),
        Voice("espeak-kk-m4", espeak="kk+m4", sentences=("ntrex128_kk.tsv", 90, 120)),
    ],
    "test": [
        Voice("interviewee", tuple(KK.format(i) for i in (17, 18, 19, 21, 22, 23, 24))),
        Voice("interviewer", (KK.format(20),)),
        Voice(
            "interviewee-slow",
            tuple(KK.format(i) for i in (17, 18, 19, 21, 22, 23, 24)),
            speed=0.89,
        ),
        *[Voice(f"golos-{i}", (GOLOS.format(i),)) for i in range(6, 8)],
        Voice("pisets", ("ru/misc/pisets_test_sound_ru.wav",)),
        Voice("espeak-ru-m7", espeak="ru+m7", sentences=("ntrex128_ru.tsv", 120, 150)),
        Voice("espeak-kk-f4", espeak="kk+f4", sentences=("ntrex128_kk.tsv", 150, 180)),
    ],
}


def _sox(source: Path, target: Path, *effects: str) -> None:
    # -R: dither seeded the same every run, so that a rebuilt set is the same audio, bit for bit
    command = [
        "sox",
        "-R",
        str(source),
        "-r",
        str(RATE),
        "-c",
        "1",
        "-b",
        "16",
        str(target),
        *effects,
    ]
    subprocess.run(command, check=True, capture_output=True)


def _floats(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as fh:
        return np.frombuffer(fh.readframes(fh.getnframes()), "<i2").astype(np.float32) / 32768


def _write(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(RATE)
        fh.writeframes(np.clip(audio * 32767, -32768, 32767).astype("<i2").tobytes())


def material(voice: Voice, evaldata: Path, work: Path) -> np.ndarray:
    """A voice's speech, its pieces joined, leading and trailing silence of each trimmed."""
    trim = ["silence", "1", "0.05", "0.5%", "reverse", "silence", "1", "0.05", "0.5%", "reverse"]
    speed = ["speed", str(voice.speed)] if voice.speed != 1.0 else []
    pieces = []
    if voice.espeak:
        name, first, last = voice.sentences
        with open(evaldata / "mt" / name, encoding="utf-8", newline="") as fh:
            rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            lines = [row["src"] for row in rows]
        for n, text in enumerate(lines[first:last]):
            raw = work / f"{voice.name}-{n}.raw.wav"
            subprocess.run(["espeak-ng", "-v", voice.espeak, "-w", str(raw), text], check=True)
            _sox(raw, work / f"{voice.name}-{n}.wav", *trim)
            pieces.append(_floats(work / f"{voice.name}-{n}.wav"))
    for n, clip in enumerate(voice.clips):
        _sox(
            evaldata / clip,
            work / f"{voice.name}-{n}.wav",
            "remix",
            "-",
            *speed,
            "rate",
            str(RATE),
            *trim,
        )
        pieces.append(_floats(work / f"{voice.name}-{n}.wav"))
    audio = np.concatenate(pieces)
    return audio / (np.abs(audio).max() + 1e-9) * 0.7


def microphone(audio: np.ndarray, rng: np.random.Generator, work: Path) -> np.ndarray:
    """The voice as one microphone and level would record it: band limits, gain, maybe a room."""
    src, out = work / "mic-in.wav", work / "mic-out.wav"
    _write(src, audio)
    effects = [
        "highpass",
        str(int(rng.uniform(60, 300))),
        "lowpass",
        str(int(rng.uniform(3400, 7800))),
    ]
    if rng.random() < 0.4:
        effects += ["reverb", str(int(rng.uniform(10, 50)))]
    effects += ["gain", "-n", f"{rng.uniform(-14, 2):.1f}"]
    _sox(src, out, *effects)
    return _floats(out)[: len(audio)]


def _length(rng: np.random.Generator, longest: float) -> float:
    """A turn's seconds, log-uniform between TURN_S[0] and ``longest``."""
    return float(np.exp(rng.uniform(np.log(TURN_S[0]), np.log(max(longest, TURN_S[0])))))


def conversation(
    voices: list[np.ndarray], names: list[str], rng: np.random.Generator, work: Path
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """Mixed audio and (start, end, voice) turns: each voice speaks once first, then at random,
    then more turns for any voice that spoke less than MIN_VOICE_S in all."""
    mics = [microphone(v, rng, work) for v in voices]
    count = int(rng.integers(max(TURNS[0], len(voices)), TURNS[1] + 1))
    order = list(rng.permutation(len(voices)))
    while len(order) < count:
        order.append(int(rng.choice([k for k in range(len(voices)) if k != order[-1]])))
    longest = [min(TURN_S[1], 1.5 * len(m) / RATE) for m in mics]
    plan = [(k, _length(rng, longest[k])) for k in order]
    while min(sum(t for v, t in plan if v == k) for k in range(len(voices))) < MIN_VOICE_S:
        k = min(range(len(voices)), key=lambda v: sum(t for w, t in plan if w == v))
        if plan[-1][0] == k:
            other = int(rng.choice([v for v in range(len(voices)) if v != k]))
            plan.append((other, _length(rng, longest[other])))
        plan.append((k, _length(rng, longest[k])))
    offsets = [int(rng.integers(len(m))) for m in mics]
    turns, pieces, at = [], [], 0.5
    for k, length in plan:
        mic = mics[k]
        n = int(length * RATE)
        idx = (offsets[k] + np.arange(n)) % len(mic)  # round the voice's material, continuing
        offsets[k] = int(idx[-1] + 1) % len(mic)
        pieces.append((at, mic[idx]))
        turns.append((at, at + length, names[k]))
        overlap = rng.random() < OVERLAP_SHARE
        at += length + (-rng.uniform(0.05, OVERLAP_S) if overlap else rng.uniform(*PAUSE_S))
    end = max(t[1] for t in turns) + 0.5
    mix = np.zeros(int(end * RATE) + 1, np.float32)
    for start, audio in pieces:
        s = int(start * RATE)
        mix[s : s + len(audio)] += audio
    snr = rng.uniform(20, 40)
    loud = np.sqrt(np.mean(np.concatenate([a for _, a in pieces]) ** 2))
    mix += rng.normal(0, loud / 10 ** (snr / 20), len(mix)).astype(np.float32)
    return mix, turns


def build_set(name: str, evaldata: Path, out: Path, seed: int) -> int:
    """One set's conversations and refs.tsv; returns how many were written."""
    rng = np.random.default_rng(seed)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    pool = POOLS[name]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        audio = [material(v, evaldata, work) for v in pool]
        n = 0
        for count, convs in CONVERSATIONS.items():
            for _ in range(convs):
                n += 1
                chosen = sorted(rng.choice(len(pool), count, replace=False))
                mix, turns = conversation(
                    [audio[k] for k in chosen], [pool[k].name for k in chosen], rng, work
                )
                _write(folder / f"conv-{n:02d}.wav", mix)
                rows += [[f"conv-{n:02d}.wav", f"{s:.3f}", f"{e:.3f}", who] for s, e, who in turns]
    with open(folder / "refs.tsv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(["file", "start", "end", "speaker"])
        writer.writerows(rows)
    return n


def main(evaldata: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "pools.tsv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(["set", "voice", "recordings", "speed"])
        for name, pool in POOLS.items():
            for v in pool:
                name_, first, last = v.sentences
                source = ",".join(v.clips) or f"espeak-ng {v.espeak}: {name_} {first}-{last}"
                writer.writerow([name, v.name, source, v.speed])
    for k, name in enumerate(POOLS):
        n = build_set(name, evaldata, out, SEED + k)
        print(f"{out / name}: {n} conversations, refs.tsv")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/make_speakers.py EVALDATA_DIR OUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
