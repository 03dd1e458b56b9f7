"""Hugging Face Whisper checkpoint folders (``transformers``' ``save_pretrained`` layout).

Read without ``transformers``: ``config.json`` gives the dimensions, the weights come from
``model.safetensors`` (through the ``safetensors`` library) or ``pytorch_model.bin`` (torch,
weights only), possibly sharded, and their names are mapped to openai-whisper's state dict.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .common import ModelError, few

_HF_LAYER = {
    "self_attn.q_proj": "attn.query",
    "self_attn.k_proj": "attn.key",
    "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query",
    "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value",
    "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0",
    "fc2": "mlp.2",
    "final_layer_norm": "mlp_ln",
}
_HF_TOP = {
    "encoder.conv1": "encoder.conv1",
    "encoder.conv2": "encoder.conv2",
    "encoder.layer_norm": "encoder.ln_post",
    "decoder.layer_norm": "decoder.ln",
    "decoder.embed_tokens": "decoder.token_embedding",
}
_HF_LAYER_KEY = re.compile(r"(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)")
HF_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def hf_name(key: str) -> str | None:
    """openai-whisper's name for a Hugging Face Whisper parameter; None for one Whisper lacks."""
    key = key.removeprefix("model.")
    if key in ("encoder.embed_positions.weight", "decoder.embed_positions.weight"):
        return key.split(".")[0] + ".positional_embedding"
    match = _HF_LAYER_KEY.fullmatch(key)
    if match:
        side, index, module, param = match.groups()
        return f"{side}.blocks.{index}.{_HF_LAYER[module]}.{param}" if module in _HF_LAYER else None
    module, _, param = key.rpartition(".")
    return (
        f"{_HF_TOP[module]}.{param}" if module in _HF_TOP and param in ("weight", "bias") else None
    )


def hf_dims(config: dict, what: str) -> dict:
    """openai-whisper's ModelDimensions from a Hugging Face WhisperConfig."""
    try:
        dims = dict(
            n_mels=config["num_mel_bins"],
            n_vocab=config["vocab_size"],
            n_audio_ctx=config["max_source_positions"],
            n_audio_state=config["d_model"],
            n_audio_head=config["encoder_attention_heads"],
            n_audio_layer=config["encoder_layers"],
            n_text_ctx=config["max_target_positions"],
            n_text_state=config["d_model"],
            n_text_head=config["decoder_attention_heads"],
            n_text_layer=config["decoder_layers"],
        )
    except KeyError as exc:
        raise ModelError(f"{what}: config.json lacks {exc.args[0]!r}") from None
    if config.get("activation_function", "gelu") != "gelu" or config.get("scale_embedding", False):
        raise ModelError(
            f"{what}: config.json describes a Whisper variant openai-whisper cannot run "
            f"(activation {config.get('activation_function')!r}, "
            f"scale_embedding {config.get('scale_embedding')!r})"
        )
    return dims


def read_safetensors(path: Path) -> dict:
    """name -> torch tensor from a ``.safetensors`` file, through the ``safetensors`` library."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"{path.name} is not a readable safetensors file: {exc}") from None


def hf_weight_files(folder: Path) -> list[Path]:
    """The weight files of a Hugging Face folder: one file, or the shards its index names."""
    for name in HF_WEIGHTS:
        path = folder / name
        if not path.is_file():
            continue
        if not name.endswith(".index.json"):
            return [path]
        try:
            shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        except (ValueError, KeyError, AttributeError):
            raise ModelError(f"{path}: not a valid weight index") from None
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise ModelError(f"{folder}: {name} names shards that are not there: {few(missing)}")
        return [folder / s for s in shards]
    others = sorted(
        p.name for p in folder.glob("*") if p.suffix in (".h5", ".msgpack", ".ckpt", ".pt")
    )
    raise ModelError(
        f"{folder}: no PyTorch weights (model.safetensors or pytorch_model.bin)"
        + (f"; found only {few(others)}" if others else "")
    )


def read_hf_weights(files: list[Path]) -> dict:
    import torch

    weights: dict = {}
    for path in files:
        if path.suffix == ".safetensors":
            weights.update(read_safetensors(path))
            continue
        try:
            part = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(
                f"{path.name} is not a weights file torch can read safely: {exc}"
            ) from None
        if not isinstance(part, dict):
            raise ModelError(f"{path.name} holds no state dict")
        weights.update(part)
    return weights


def hf_to_openai_state(weights: dict, what: str) -> dict:
    """Rename Hugging Face Whisper parameters to openai-whisper's (float16/float32 kept)."""
    import torch

    state, foreign = {}, []
    for key, tensor in weights.items():
        if key.removeprefix("model.") == "proj_out.weight":
            continue  # tied to the token embedding in Whisper; checked below
        name = hf_name(key)
        if name is None or not tensor.is_floating_point():
            foreign.append(key)
            continue
        state[name] = tensor if tensor.dtype in (torch.float16, torch.float32) else tensor.float()
    if foreign:
        raise ModelError(
            f"{what}: parameters that are not Whisper's speech recognition model's: {few(foreign)}"
        )
    proj = weights.get("proj_out.weight", weights.get("model.proj_out.weight"))
    embed = state.get("decoder.token_embedding.weight")
    if proj is not None and embed is not None and not torch.equal(proj.to(embed.dtype), embed):
        raise ModelError(
            f"{what}: its output projection is not tied to the token embedding, "
            f"which openai-whisper and faster-whisper require"
        )
    return state
