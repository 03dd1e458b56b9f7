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
    """``audio`` a number of semitones higher (or lower), as long; formants move with it."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    if not semitones or len(audio) < PITCH_FFT:
        return audio
    shifted = librosa.effects.pitch_shift(
        audio,
        sr=SAMPLE_RATE,
        n_steps=semitones,
        n_fft=PITCH_FFT,
        hop_length=PITCH_FFT // 4,
    )
    # Resampling loses the band above the new Nyquist: the whole keeps its loudness.
    level = np.sqrt(np.mean(shifted.astype(np.float64) ** 2))
    if level > 0:
        shifted *= np.sqrt(np.mean(audio.astype(np.float64) ** 2)) / level
    return np.clip(shifted, -1.0, 1.0).astype(np.float32)


def disguise(audio: np.ndarray, transform: Disguise) -> np.ndarray:
    """``audio`` (mono float, 16 kHz) disguised by ``transform``, as long and about as loud."""
    return shift_pitch(mcadams(audio, transform.alpha), transform.semitones)
