"""Voice disguise: McAdams-coefficient LPC pole shifting, the VoicePrivacy Challenge's
signal-processing baseline (Patino et al., "Speaker anonymisation using the McAdams
coefficient", Interspeech 2021), followed by a pitch shift. No trained model: numpy, scipy
and librosa.

Each 20 ms frame is split by linear prediction into a vocal-tract filter and its excitation.
The angle of every complex pole of the filter (a formant) is raised to the power alpha, which
moves the formants; the excitation is kept and passed through the moved filter. Then the whole
sound is shifted in pitch (and with it the formants) up or down by some semitones, its timing
kept. A strong McAdams alone (alpha near 0.5) unlinks the voice but garbles the words for the
recognizer; a mild one leaves the voice linkable. A mild McAdams with a pitch shift does both
less badly (docs/protection.md has the measured trade-off). Each export draws its own alpha,
semitones and direction, so two packets of the same witness do not share one transform; they
are used once and never stored or logged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
import scipy.signal

from ..media import SAMPLE_RATE

WINDOW_S, HOP_S = 0.020, 0.010
LPC_ORDER = 20
# The ranges each export's draw comes from (docs/protection.md: `testimony bench protect`).
# alpha: lower moves formants further, less linkable, fewer words recognised.
ALPHA_RANGE = (0.8, 0.85)
# semitones: the size of the pitch shift; its direction (up or down) is drawn too.
SEMITONE_RANGE = (3.5, 5.5)
PITCH_FFT = 512  # 32 ms: the phase vocoder's window; librosa's 128 ms default smears speech
# Long sound is shifted in pieces of about PITCH_CHUNK_S, cut at the quietest moment within
# PITCH_SEAM_SEARCH_S of each boundary and cross-faded over PITCH_FADE_S either side.
PITCH_CHUNK_S, PITCH_SEAM_SEARCH_S, PITCH_FADE_S = 30.0, 5.0, 0.02
SILENT = 1e-5  # frames quieter than this (muted spans, digital silence) stay silent


@dataclass(frozen=True)
class Disguise:
    """One export's transform: McAdams coefficient, then a pitch shift in semitones (signed)."""

    alpha: float
    semitones: float


def _uniform(bounds: tuple[float, float]) -> float:
    low, high = bounds
    return low + (high - low) * secrets.randbelow(1_000_001) / 1_000_000


def random_alpha(bounds: tuple[float, float] = ALPHA_RANGE) -> float:
    """A fresh coefficient from the operating system's random source."""
    return _uniform(bounds)


def random_disguise(
    alphas: tuple[float, float] = ALPHA_RANGE, semitones: tuple[float, float] = SEMITONE_RANGE
) -> Disguise:
    """A fresh transform for one export, from the operating system's random source."""
    direction = 1 if secrets.randbelow(2) else -1
    return Disguise(random_alpha(alphas), direction * _uniform(semitones))


def _shift_poles(a: np.ndarray, alpha: float) -> np.ndarray:
    """The LPC polynomial with each complex pole's angle raised to ``alpha`` (radians)."""
    poles = np.roots(a)
    upper = np.imag(poles) > 0
    angles = np.clip(np.angle(poles[upper]) ** alpha, 0.0, np.pi)
    moved = np.abs(poles[upper]) * np.exp(1j * angles)
    new = np.concatenate([poles[np.imag(poles) == 0], moved, np.conj(moved)])
    return np.real(np.poly(new))


def mcadams(audio: np.ndarray, alpha: float) -> np.ndarray:
    """``audio`` (mono float, 16 kHz) with its formants moved by ``alpha``, as long and loud."""
    import librosa

    audio = np.asarray(audio, dtype=np.float64)
    win_len, hop = int(WINDOW_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
    if len(audio) < win_len:
        return audio.astype(np.float32)
    window = np.hanning(win_len)
    # Hann windows at half overlap, applied on analysis and synthesis: sqrt keeps the sum flat.
    window = np.sqrt(window / (window.sum() / hop))
    out = np.zeros(len(audio) + win_len)
    for start in range(0, len(audio) - win_len + 1, hop):
        frame = audio[start : start + win_len] * window
        if np.max(np.abs(frame)) < SILENT:
            continue
        try:
            a = librosa.lpc(frame + 1e-9, order=LPC_ORDER)
        except FloatingPointError:
            continue
        if not np.all(np.isfinite(a)):
            continue
        residual = scipy.signal.lfilter(a, [1.0], frame)
        shaped = scipy.signal.lfilter([1.0], _shift_poles(a, alpha), residual)
        if not np.all(np.isfinite(shaped)):  # an unstable filter (a pure tone): left silent
            continue
        # Each frame keeps its own loudness: moved resonances change the filter's gain.
        energy = np.sqrt(np.sum(shaped**2))
        if energy > 0:
            shaped *= np.sqrt(np.sum(frame**2)) / energy
        out[start : start + win_len] += shaped * window
    return np.clip(out[: len(audio)], -1.0, 1.0).astype(np.float32)


def shift_pitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    """``audio`` a number of semitones higher (or lower), as long; formants move with it.

    Done in pieces of about PITCH_CHUNK_S, so that an interview of hours never holds its whole
    spectrogram in memory. Pieces meet at the quietest 20 ms near each boundary and are
    cross-faded there: the phase vocoder's pieces are not in phase with each other, and a seam
    in the middle of a vowel would dip."""
    audio = np.asarray(audio, dtype=np.float32)
    if not semitones or len(audio) < PITCH_FFT:
        return audio
    fade = int(PITCH_FADE_S * SAMPLE_RATE)
    seams = [0, *_quiet_seams(audio), len(audio)]
    out = np.zeros(len(audio), dtype=np.float64)
    for start, end in zip(seams, seams[1:]):
        lo, hi = max(start - fade, 0), min(end + fade, len(audio))
        shifted = _shift_piece(audio[lo:hi], semitones)
        # Linear fades where pieces overlap: the two sides of each seam sum to one.
        weight = np.ones(hi - lo)
        if lo > 0:
            weight[: 2 * fade] = np.linspace(0.0, 1.0, 2 * fade)
        if hi < len(audio):
            weight[-2 * fade :] = np.linspace(1.0, 0.0, 2 * fade)
        out[lo:hi] += shifted * weight
    # Resampling loses the band above the new Nyquist: the whole keeps its loudness.
    level = np.sqrt(np.mean(out**2))
    if level > 0:
        out *= np.sqrt(np.mean(audio.astype(np.float64) ** 2)) / level
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _quiet_seams(audio: np.ndarray) -> list[int]:
    """Where pieces meet: the quietest 20 ms within PITCH_SEAM_SEARCH_S of every PITCH_CHUNK_S."""
    step, reach = int(0.02 * SAMPLE_RATE), int(PITCH_SEAM_SEARCH_S * SAMPLE_RATE)
    piece, fade = int(PITCH_CHUNK_S * SAMPLE_RATE), int(PITCH_FADE_S * SAMPLE_RATE)
    seams: list[int] = []
    for target in range(piece, len(audio) - piece // 2, piece):
        lo = max(target - reach, (seams[-1] if seams else 0) + 4 * fade)
        hi = min(target + reach, len(audio) - 4 * fade)
        if hi - lo < step:
            continue
        frames = audio[lo : hi - (hi - lo) % step].astype(np.float64).reshape(-1, step)
        seams.append(lo + int(np.argmin(np.sum(frames**2, axis=1))) * step + step // 2)
    return seams


def _shift_piece(audio: np.ndarray, semitones: float) -> np.ndarray:
    import librosa

    if len(audio) < PITCH_FFT:
        return audio.astype(np.float64)
    return librosa.effects.pitch_shift(
        audio, sr=SAMPLE_RATE, n_steps=semitones, n_fft=PITCH_FFT, hop_length=PITCH_FFT // 4
    ).astype(np.float64)


def disguise(audio: np.ndarray, transform: Disguise) -> np.ndarray:
    """``audio`` (mono float, 16 kHz) disguised by ``transform``, as long and about as loud."""
    return shift_pitch(mcadams(audio, transform.alpha), transform.semitones)
