"""The number format an engine computes in, chosen by measurement per device.

On a CPU, Whisper base in int8 made no more word errors than float32 on the tuning halves of
both dev sets (Russian a tie, Kazakh 2.8 WER points fewer) and was faster in every run; held
out, Russian int8 0.333 against float32 0.381, Kazakh a tie (docs/benchmarks.md, "Compute
type"). Larger models were not measured (none can be installed here); int8 is also
CTranslate2's advice for them on a CPU. openai-whisper computes in float32 on a CPU. On a GPU,
float16 is CTranslate2's and openai-whisper's own choice; no GPU was available to measure.
"""

from __future__ import annotations

AUTO = "auto"
# What CTranslate2 accepts (its docs, "Quantization"); openai-whisper computes in float32 or float16.
CT2_TYPES = (
    "float32",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
)
TORCH_TYPES = ("float32", "float16")


def allowed(engine: str) -> tuple[str, ...]:
    """The compute types ``engine`` can be asked for."""
    return (AUTO, *(TORCH_TYPES if engine == "openai-whisper" else CT2_TYPES))


def choose(engine: str, device: str, asked: str = AUTO) -> str:
    """The compute type to load ``engine`` with: ``asked``, or for "auto" the measured best."""
    if asked != AUTO:
        if asked not in allowed(engine):
            raise ValueError(
                f"compute type {asked!r} is not one {engine} has; use one of "
                f"{', '.join(allowed(engine))}"
            )
        if engine == "openai-whisper" and device == "cpu" and asked == "float16":
            raise ValueError(
                "openai-whisper computes in float16 on a GPU only; use float32 (or auto) on a CPU"
            )
        return asked
    if device == "cuda":
        return "float16"
    return "float32" if engine == "openai-whisper" else "int8"
