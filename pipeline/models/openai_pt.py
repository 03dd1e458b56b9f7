"""openai-whisper ``.pt`` checkpoints, and the layout every other form is converted through.

A checkpoint is a torch pickle of ``{"dims": ModelDimensions fields, "model_state_dict": ...}``.
The CTranslate2 and Hugging Face readers produce this state dict and the CTranslate2 writer
consumes it, so the one strict check of a Whisper model (``check_whisper_state``) lives here.
"""

from __future__ import annotations

import os
from pathlib import Path

from .common import ModelError, few

MULTILINGUAL_VOCAB = 51865  # Whisper's multilingual vocabulary with 99 languages; large-v3 adds one
DIM_KEYS = (
    "n_mels",
    "n_audio_ctx",
    "n_audio_state",
    "n_audio_head",
    "n_audio_layer",
    "n_vocab",
    "n_text_ctx",
    "n_text_state",
    "n_text_head",
    "n_text_layer",
)


def whisper_languages(n_vocab: int) -> list[str]:
    """The language codes a Whisper vocabulary of ``n_vocab`` tokens has tokens for."""
    from whisper.tokenizer import LANGUAGES

    if n_vocab < MULTILINGUAL_VOCAB:
        return ["en"]
    return list(LANGUAGES)[
        : n_vocab - 51765 - 1
    ]  # openai-whisper's own rule (Whisper.num_languages)


def check_whisper_state(state: dict, dims: dict, what: str) -> dict:
    """Refuse ``state`` unless it loads strictly into ``whisper.model.Whisper(dims)``.

    The check is the one ``load_state_dict(strict=True)`` makes (every parameter name, no
    extra one, every shape), against whisper's own encoder and decoder modules; they are built
    on torch's meta device so that checking a large model costs no memory. Returns the dims.
    """
    import torch
    from whisper.model import AudioEncoder, ModelDimensions, TextDecoder

    try:
        d = ModelDimensions(**{key: int(dims[key]) for key in DIM_KEYS})
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{what}: incomplete Whisper dimensions ({exc!r} in {dims})") from None
    if d.n_audio_state % d.n_audio_head or d.n_text_state % d.n_text_head:
        raise ModelError(f"{what}: attention heads do not divide the model width ({dims})")
    with torch.device("meta"):
        encoder = AudioEncoder(
            d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer
        )
        decoder = TextDecoder(
            d.n_vocab, d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer
        )
    expected = {f"encoder.{k}": tuple(v.shape) for k, v in encoder.state_dict().items()}
    expected.update({f"decoder.{k}": tuple(v.shape) for k, v in decoder.state_dict().items()})
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = sorted(
        f"{k} {tuple(state[k].shape)} (expected {expected[k]})"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != expected[k]
    )
    problems = [
        f"{label}: {few(names)}"
        for label, names in (("missing", missing), ("not Whisper's", extra), ("wrong shape", wrong))
        if names
    ]
    if problems:
        raise ModelError(
            f"{what} does not fit Whisper with dimensions {dims}: " + "; ".join(problems)
        )
    return {key: int(dims[key]) for key in DIM_KEYS}


def load_checkpoint(path: Path) -> dict:
    """An openai-whisper ``.pt`` (``{"dims", "model_state_dict"}``), read without running pickled code."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path.name} is not a checkpoint torch can read safely: {exc}") from None
    if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= set(checkpoint):
        raise ModelError(
            f"{path.name} is not an openai-whisper checkpoint (it needs 'dims' and "
            f"'model_state_dict'); a Hugging Face model is added as its folder"
        )
    dims = checkpoint["dims"]
    checkpoint["dims"] = dict(dims if isinstance(dims, dict) else vars(dims))
    return checkpoint


def save_checkpoint(state: dict, dims: dict, out: Path) -> None:
    import torch

    tmp = out.with_suffix(
        ".tmp"
    )  # torch.save names its archive after the file: keep base.pt's bytes
    torch.save({"dims": dims, "model_state_dict": state}, tmp)
    os.replace(tmp, out)
