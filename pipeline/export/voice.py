"""Voice disguise: McAdams-coefficient LPC pole shifting, the VoicePrivacy Challenge's
signal-processing baseline (Patino et al., "Speaker anonymisation using the McAdams
coefficient", Interspeech 2021). No trained model: numpy, scipy and librosa's LPC.

Each 20 ms frame is split by linear prediction into a vocal-tract filter and its excitation.
The angle of every complex pole of the filter (a formant) is raised to the power alpha, which
moves the formants; the excitation (pitch, timing, the words) is kept and passed through the
moved filter. Each export draws its own alpha, so that two packets of the same witness do not
share one transform. The alpha is used once and never stored or logged.
"""

from __future__ import annotations

import secrets

import numpy as np
import scipy.signal

from ..media import SAMPLE_RATE

WINDOW_S, HOP_S = 0.020, 0.010
LPC_ORDER = 20
# The range each export's alpha is drawn from. Lower moves formants further: less linkable, fewer
# words recognised. This range reaches the ignorant attacker's 35 % EER; its cost to the words
# is measured beside milder ranges in docs/protection.md (`testimony bench protect --alpha`).
ALPHA_RANGE = (0.5, 0.62)
SILENT = 1e-5  # frames quieter than this (muted spans, digital silence) stay silent


def random_alpha(bounds: tuple[float, float] = ALPHA_RANGE) -> float:
    """A fresh coefficient from the operating system's random source, for one export."""
    low, high = bounds
    return low + (high - low) * secrets.randbelow(1_000_001) / 1_000_000


def _shift_poles(a: np.ndarray, alpha: float) -> np.ndarray:
    """The LPC polynomial with each complex pole's angle raised to ``alpha`` (radians)."""
    poles = np.roots(a)
    upper = np.imag(poles) > 0
    angles = np.clip(np.angle(poles[upper]) ** alpha, 0.0, np.pi)
    moved = np.abs(poles[upper]) * np.exp(1j * angles)
    new = np.concatenate([poles[np.imag(poles) == 0], moved, np.conj(moved)])
    return np.real(np.poly(new))


def disguise(audio: np.ndarray, alpha: float) -> np.ndarray:
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
        # Each frame keeps its own loudness: moved resonances change the filter's gain.
        energy = np.sqrt(np.sum(shaped**2))
        if energy > 0:
            shaped *= np.sqrt(np.sum(frame**2)) / energy
        out[start : start + win_len] += shaped * window
    return np.clip(out[: len(audio)], -1.0, 1.0).astype(np.float32)
