"""The number format an engine computes in, chosen by measurement per device and model size.

On a CPU, Whisper base computed in float32 transcribes the Russian dev clips with fewer errors
than int8 at about the same speed, and the Kazakh ones no worse (docs/benchmarks.md, "Compute
type"); int8 pays off only for models too large to run in float32 at a usable speed, which were
not measured here. On a GPU, float16 is CTranslate2's and openai-whisper's own choice; no GPU
was available to measure the alternatives.
"""

from __future__ import annotations

import os
from pathlib import Path

AUTO = "auto"
# What CTranslate2 accepts (its docs, "Quantization"); openai-whisper computes in float32 or float16.
CT2_TYPES = ("float32", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
             "bfloat16")
TORCH_TYPES = ("float32", "float16")
# Weights files up to this size hold Whisper base or smaller (base: 145 MB in float16, 290 MB in
# float32): float32 measured best on CPU. Above it (small and up) int8, as CTranslate2 advises.
MEASURED_FLOAT32_BYTES = 300_000_000


def weights_bytes(model_path: str) -> int:
    """Size of the weights: a CTranslate2 folder's model.bin, or an openai-whisper checkpoint."""
    path = Path(model_path)
    path = path / "model.bin" if path.is_dir() else path
    return os.path.getsize(path) if path.exists() else 0


def allowed(engine: str) -> tuple[str, ...]:
    """The compute types ``engine`` can be asked for."""
    return (AUTO, *(TORCH_TYPES if engine == "openai-whisper" else CT2_TYPES))


def choose(engine: str, device: str, model_path: str, asked: str = AUTO) -> str:
    """The compute type to load ``engine`` with: ``asked``, or for "auto" the measured best."""
    if asked != AUTO:
        if asked not in allowed(engine):
            raise ValueError(f"compute type {asked!r} is not one {engine} has; use one of "
                             f"{', '.join(allowed(engine))}")
        if engine == "openai-whisper" and device == "cpu" and asked == "float16":
            raise ValueError("openai-whisper computes in float16 on a GPU only; use float32 (or auto) on a CPU")
        return asked
    if device == "cuda":
        return "float16"
    if engine == "openai-whisper" or weights_bytes(model_path) <= MEASURED_FLOAT32_BYTES:
        return "float32"
    return "int8"
