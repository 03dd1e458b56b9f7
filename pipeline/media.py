"""Audio out of whatever container arrived: ffmpeg, through ffmpeg-python, to 16 kHz mono.

The ffmpeg binary is the one on PATH, else the one the imageio-ffmpeg wheel ships, so that
``pip install`` alone sets a machine up. Only ffmpeg is needed (no ffprobe): a failed
extraction's message tells a missing audio track from a damaged file. The original is only
ever read; the WAV written here is a derived working copy.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import shutil
import wave
from pathlib import Path

import ffmpeg
import numpy as np

SAMPLE_RATE = 16000  # what Whisper and the voice models take; defined here only
# A recording whose channels cancel when mixed to mono (one wired or set phase-inverted) comes
# out near silent: below QUIET_RMS (-50 dBFS), the first channel alone is tried, and used where
# it is CANCELLED times louder than the mix (an independent check found such a file transcribed
# as silence, with no warning).
QUIET_RMS = 0.003
CANCELLED = 10.0
CANCELLED_WARNING = (
    "The recording's channels cancel each other when mixed to mono (one is phase-inverted), "
    "so its first channel alone was transcribed. Listen to the other channel for speech heard "
    "only there."
)


class MediaError(RuntimeError):
    """The recording cannot be turned into audio; the message says what to do."""


class DiskFull(OSError):
    """No space left for the working copy: not the recording's fault, so the job waits."""


@functools.lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise MediaError(
            "No ffmpeg found: install it (apt install ffmpeg) or pip install imageio-ffmpeg"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


# How ffmpeg says that it has no decoder for a stream's codec, which each version words its own
# way: "Decoder (codec none) not found for input stream #0:0" (Debian's 5.1, and 4.x),
# "Decoding requested, but no decoder found for: none" (6.1 on, as in imageio-ffmpeg's build).
_NO_DECODER = (
    r"decoder \(codec [^)]*\) not found",
    r"no decoder found",
    r"decoder not found",
    r"unknown codec",
)


def _explain(stderr: str, source: Path) -> str:
    """What is wrong with ``source``, from ffmpeg's report and, where that cannot tell (ffmpeg
    says "moov atom not found" of a text file named .mp4 and of a half-copied video alike),
    from what the file's first bytes say it is."""
    name, text = source.name, stderr.lower()
    kind = _kind(source)
    if kind is not None:
        return (
            f"{name} is not a recording: it is {kind} with a {source.suffix or 'media'} name. Check that the "
            f"right file was sent, and drop the recording itself."
        )
    if "matches no streams" in text or "does not contain any stream" in text:
        return (
            f"{name} has no audio track. Check that the right file was sent; if the interview "
            f"was recorded on a separate device, drop that audio file instead."
        )
    if any(re.search(said, text) for said in _NO_DECODER):
        return (
            f"{name} holds its sound in a format (codec) this tool's ffmpeg cannot decode. Convert it to "
            f"WAV or MP3 with the recorder's own software (or a full ffmpeg) and drop the converted copy; "
            f"keep the original too."
        )
    if (
        "moov atom not found" in text
        or "end of file" in text
        or "truncated" in text
        or "invalid data found" in text
    ):
        return (
            f"{name} is incomplete or damaged (it starts like a recording but cannot be read through, as a "
            f"half-copied or interrupted recording does). Copy it again from the camera or phone and drop "
            f"the new copy."
        )
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    return f"ffmpeg could not read {name}: {last}"


def _kind(source: Path) -> str | None:
    """What ``source`` is when its first bytes say it is not audio or video (text, an image, a
    document); None when they name a media container, or when it cannot be read."""
    import filetype

    try:
        with open(source, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return None
    guess = filetype.guess(head)
    if guess is not None:
        top = guess.mime.split("/")[0]
        return (
            None
            if top in ("audio", "video")
            else f"a {guess.extension.upper()} file ({guess.mime})"
        )
    try:
        sample = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of the sample is still text
        sample = head[: exc.start].decode("utf-8") if exc.start > len(head) - 4 else ""
    if sample and sum(c.isprintable() or c.isspace() for c in sample) >= 0.95 * len(sample):
        return "a text file"
    return "data of no audio or video format that this tool knows"


def extract_audio(source: Path, target: Path) -> float:
    """Write the first audio track of ``source`` as 16 kHz mono PCM WAV; return its seconds.

    Writes to a temporary name and renames, so a killed run never leaves a half WAV that
    looks finished. Where the channels cancel in the mix, the first channel is written instead
    and :func:`extraction_warnings` says so.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part.wav")
    _run_ffmpeg(source, tmp)
    seconds = wav_seconds(tmp)
    if seconds < 0.1:
        tmp.unlink(missing_ok=True)
        raise MediaError(
            f"{source.name} has an audio track with no sound in it (zero length). "
            f"Check the recording and drop a copy that plays."
        )
    note = warning_path(target)
    note.unlink(missing_ok=True)
    mixed = _rms(tmp)
    if mixed < QUIET_RMS:
        first = target.with_name(target.name + ".first.wav")
        _run_ffmpeg(source, first, pan="mono|c0=c0")
        if _rms(first) > CANCELLED * max(mixed, 1e-9):
            os.replace(first, tmp)
            note.write_text(CANCELLED_WARNING, encoding="utf-8")  # before the WAV: it vouches
        first.unlink(missing_ok=True)
    os.replace(tmp, target)
    return seconds


def _run_ffmpeg(source: Path, target: Path, pan: str | None = None) -> None:
    """The first audio track of ``source`` as 16 kHz mono PCM WAV: ffmpeg's own downmix, or
    the mix a ``pan`` filter says."""
    filters = {"af": f"pan={pan}"} if pan else {"ac": 1}
    stream = (
        ffmpeg.input(str(source))
        .output(
            str(target),
            map="0:a:0",
            ar=SAMPLE_RATE,
            acodec="pcm_s16le",
            f="wav",
            vn=None,
            **filters,
        )
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-xerror")
        .overwrite_output()
    )
    try:
        ffmpeg.run(stream, cmd=ffmpeg_binary(), capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as exc:
        target.unlink(missing_ok=True)
        stderr = exc.stderr.decode("utf-8", "replace")
        if "no space left on device" in stderr.lower():
            raise DiskFull(errno.ENOSPC, "no space left for the audio working copy") from None
        raise MediaError(_explain(stderr, source)) from None


def warning_path(wav: Path) -> Path:
    """Where :func:`extract_audio` leaves what a user must know about the working copy."""
    return wav.with_name(wav.name + ".warning.txt")


def extraction_warnings(wav: Path) -> list[str]:
    """What :func:`extract_audio` found wrong with the recording that made ``wav`` (a resumed
    job reads it again from beside the WAV)."""
    note = warning_path(wav)
    return [note.read_text(encoding="utf-8")] if note.exists() else []


def _rms(path: Path) -> float:
    """Root mean square level of a 16 kHz mono WAV, read a minute at a time."""
    total, count = 0.0, 0
    with _open_checked(path) as wav:
        while frames := wav.readframes(60 * SAMPLE_RATE):
            block = _floats(frames).astype(np.float64)
            total, count = total + float(np.dot(block, block)), count + len(block)
    return (total / count) ** 0.5 if count else 0.0


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _open_checked(path: Path) -> wave.Wave_read:
    wav = wave.open(str(path), "rb")
    if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
        wav.close()
        raise MediaError(f"{path} is not 16 kHz mono 16-bit audio")
    return wav


def _floats(frames: bytes) -> np.ndarray:
    return np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0


def load_wav(path: Path) -> np.ndarray:
    """The 16 kHz mono WAV written by :func:`extract_audio`, as float32 in [-1, 1]."""
    with _open_checked(path) as wav:
        return _floats(wav.readframes(wav.getnframes()))


def _quietest_cut(audio: np.ndarray, search: int, frame: int = SAMPLE_RATE // 10) -> int:
    """Index of the quietest 100 ms frame in the last ``search`` samples: a pause to cut at."""
    tail = audio[-search:]
    usable = len(tail) // frame * frame
    if usable == 0:
        return len(audio)
    energy = (tail[:usable].reshape(-1, frame) ** 2).mean(axis=1)
    return len(audio) - len(tail) + int(np.argmin(energy)) * frame + frame // 2


def wav_chunks(path: Path, chunk_seconds: float = 600, search_seconds: float = 5):
    """Yield (offset seconds, audio) pieces of about ``chunk_seconds``, each cut in a pause.

    Memory stays the size of one piece however long the interview is (a 2-hour file as a
    whole would need gigabytes for its spectrogram), and pieces are the unit of resuming.
    """
    # The pause is looked for in the last quarter at most, so short test pieces stay near their length.
    size, search = (
        int(chunk_seconds * SAMPLE_RATE),
        int(min(search_seconds, chunk_seconds / 4) * SAMPLE_RATE),
    )
    with _open_checked(path) as wav:
        remaining = wav.getnframes()
        carry, offset = np.zeros(0, dtype=np.float32), 0
        while remaining > 0 or len(carry):
            frames = wav.readframes(min(size - len(carry), remaining)) if remaining > 0 else b""
            remaining -= len(frames) // 2
            block = np.concatenate([carry, _floats(frames)])
            cut = len(block) if remaining <= 0 else _quietest_cut(block, search)
            yield offset / SAMPLE_RATE, block[:cut]
            carry, offset = block[cut:], offset + cut
