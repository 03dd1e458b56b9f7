"""CTranslate2 (faster-whisper) Whisper folders: read ``model.bin`` back, and write one.

The ctranslate2 Python API writes models but cannot hand weights back, so ``model.bin`` is
parsed here (layout in ``shared/notes/models.md``); writing goes through ctranslate2's own
``WhisperSpec``. Both directions convert to and from openai-whisper's state dict.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from ..media import SAMPLE_RATE
from .common import ModelError
from .openai_pt import MULTILINGUAL_VOCAB, check_whisper_state, save_checkpoint, whisper_languages
from .tokenizer import tokenizer_vocabulary, whisper_tokenizer_json

CT2_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
# What CTranslate2 folders are written in (faster-whisper's own choice).
CT2_QUANTIZATION = "float16"
CT2_FILES = (
    "model.bin",
    "config.json",
    "tokenizer.json",
    "vocabulary.json",
    "vocabulary.txt",
    "preprocessor_config.json",
)


def read_ct2(path: Path) -> dict:
    """Parse a CTranslate2 ``model.bin`` (format version 6) into name -> numpy array."""
    import numpy as np

    data = path.read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string() -> str:
        nonlocal pos
        (length,) = take("H")
        text = data[pos : pos + length].rstrip(b"\0").decode()
        pos += length
        return text

    (version,) = take("I")
    if version < 5:
        raise ModelError(f"{path}: CTranslate2 model format {version} is too old to read")
    string()  # spec name, e.g. WhisperSpec
    take("I")  # spec revision
    (count,) = take("I")
    tensors: dict = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        dims = take(f"{rank}I") if rank else ()
        (dtype_id,) = take("B")
        (nbytes,) = take("I")
        dtype = CT2_DTYPES.get(dtype_id)
        if dtype is None:
            raise ModelError(f"{path}: tensor {name} has an unsupported type ({dtype_id})")
        if dtype == "bfloat16":  # the top half of a float32
            raw = np.frombuffer(data, dtype=np.uint16, count=nbytes // 2, offset=pos)
            tensors[name] = (raw.astype(np.uint32) << 16).view(np.float32).reshape(dims)
        else:
            tensors[name] = np.frombuffer(
                data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=pos
            ).reshape(dims)
        pos += nbytes
    (n_alias,) = take("I")
    for _ in range(n_alias):
        alias, target = string(), string()
        tensors[alias] = tensors[target]
    return tensors


def ct2_to_openai_state(tensors: dict, keep_float16: bool = False) -> dict:
    """Rename and split CTranslate2 Whisper tensors into openai-whisper's state_dict (float32,
    or float16 where the file has float16 and ``keep_float16``: half the disk, same model)."""
    import numpy as np
    import torch

    tensors = _dequantized(tensors)
    state: dict = {}

    def put(name: str, array) -> None:
        dtype = np.float16 if keep_float16 and array.dtype == np.float16 else np.float32
        state[name] = torch.from_numpy(np.ascontiguousarray(array).astype(dtype))

    def norm(src: str, dst: str) -> None:
        put(f"{dst}.weight", tensors[f"{src}/gamma"])
        put(f"{dst}.bias", tensors[f"{src}/beta"])

    def linear(src: str, dst: str, bias: bool = True) -> None:
        put(f"{dst}.weight", tensors[f"{src}/weight"])
        if bias:
            put(f"{dst}.bias", tensors[f"{src}/bias"])

    def fused(src: str, dsts: list[str]) -> None:
        weight, bias = tensors[f"{src}/weight"], tensors[f"{src}/bias"]
        rows = weight.shape[0] // len(dsts)
        for i, dst in enumerate(dsts):
            put(f"{dst}.weight", weight[i * rows : (i + 1) * rows])
            if not dst.endswith(".key"):  # openai-whisper's key projections carry no bias
                put(f"{dst}.bias", bias[i * rows : (i + 1) * rows])

    for conv in ("conv1", "conv2"):
        linear(f"encoder/{conv}", f"encoder.{conv}")
    for side in ("encoder", "decoder"):
        put(f"{side}.positional_embedding", tensors[f"{side}/position_encodings/encodings"])
    norm("encoder/layer_norm", "encoder.ln_post")
    norm("decoder/layer_norm", "decoder.ln")
    put("decoder.token_embedding.weight", tensors["decoder/embeddings/weight"])

    for side in ("encoder", "decoder"):
        i = 0
        while f"{side}/layer_{i}/self_attention/linear_0/weight" in tensors:
            src, dst = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            fused(
                f"{src}/self_attention/linear_0",
                [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"],
            )
            linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
            norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
            if side == "decoder":
                linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
                fused(
                    f"{src}/attention/linear_1",
                    [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"],
                )
                linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
                norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
            linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
            linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")
            norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
            i += 1
    return state


def _dequantized(tensors: dict) -> dict:
    """int8/int16 CTranslate2 weights back to float32: ``weight = stored / weight_scale``."""
    import numpy as np

    out = dict(tensors)
    for name, scale in tensors.items():
        if not name.endswith("_scale") or name[: -len("_scale")] not in tensors:
            continue
        stored = tensors[name[: -len("_scale")]]
        if stored.dtype.kind != "i":
            continue
        scale = np.asarray(scale, dtype=np.float32)
        values = stored.astype(np.float32)
        if scale.ndim == 0:
            values = values / scale
        else:  # one scale per output row (conv weights flattened to rows first)
            values = (values.reshape(values.shape[0], -1) / scale[:, None]).reshape(values.shape)
        out[name[: -len("_scale")]] = values
    return out


def ct2_dims(tensors: dict) -> dict:
    """openai-whisper's ModelDimensions of a CTranslate2 Whisper model, read off its tensors."""

    def layers(side: str) -> int:
        count = 0
        while f"{side}/layer_{count}/self_attention/linear_0/weight" in tensors:
            count += 1
        return count

    def heads(side: str, width: int) -> int:
        value = tensors.get(f"{side}/num_heads")
        return int(value) if value is not None else width // 64  # every Whisper head is 64 wide

    audio_ctx, audio_state = tensors["encoder/position_encodings/encodings"].shape
    text_ctx, text_state = tensors["decoder/position_encodings/encodings"].shape
    return dict(
        n_mels=int(tensors["encoder/conv1/weight"].shape[1]),
        n_vocab=int(tensors["decoder/embeddings/weight"].shape[0]),
        n_audio_ctx=int(audio_ctx),
        n_audio_state=int(audio_state),
        n_audio_head=heads("encoder", audio_state),
        n_audio_layer=layers("encoder"),
        n_text_ctx=int(text_ctx),
        n_text_state=int(text_state),
        n_text_head=heads("decoder", text_state),
        n_text_layer=layers("decoder"),
    )


def convert_ct2_to_checkpoint(ct2_dir: Path, out: Path, dims: dict | None = None) -> Path:
    """Write an openai-whisper ``.pt`` checkpoint from a CTranslate2 Whisper folder.

    ``dims`` defaults to what the tensors say (layers, widths, contexts, heads)."""
    tensors = read_ct2(ct2_dir / "model.bin")
    dims = dims or ct2_dims(tensors)
    state = ct2_to_openai_state(tensors)
    check_whisper_state(state, dims, str(ct2_dir))
    save_checkpoint(state, dims, out)
    return out


def ct2_config(ids: dict, dims: dict, generation: dict | None = None) -> dict:
    """config.json of a CTranslate2 Whisper: language token ids (language detection), the tokens
    Whisper never writes, and the cross-attention heads used for word timings."""
    import whisper.tokenizer

    generation = generation or {}
    n_vocab = int(dims["n_vocab"])
    suppress = generation.get("suppress_tokens")
    if suppress is None:
        tok = whisper.tokenizer.get_tokenizer(
            n_vocab >= MULTILINGUAL_VOCAB, num_languages=len(whisper_languages(n_vocab))
        )
        suppress = sorted(
            set(tok.non_speech_tokens)
            | {tok.transcribe, tok.translate, tok.sot, tok.sot_prev, tok.sot_lm, tok.no_speech}
        )
    layers, heads = int(dims["n_text_layer"]), int(dims["n_text_head"])
    return {
        "lang_ids": [ids[f"<|{c}|>"] for c in whisper_languages(n_vocab) if f"<|{c}|>" in ids],
        "suppress_ids": list(suppress),
        "suppress_ids_begin": generation.get("begin_suppress_tokens")
        or [ids.get("Ġ", 220), ids["<|endoftext|>"]],
        "alignment_heads": generation.get("alignment_heads")
        or [[layer, head] for layer in range(layers // 2, layers) for head in range(heads)],
    }


def _preprocessor_config(n_mels: int) -> str:
    """faster-whisper reads the number of mel bins from here (80 when absent; large-v3 has 128)."""
    return json.dumps(
        {
            "chunk_length": 30,
            "feature_extractor_type": "WhisperFeatureExtractor",
            "feature_size": int(n_mels),
            "hop_length": 160,
            "n_fft": 400,
            "n_samples": 480000,
            "nb_max_frames": 3000,
            "padding_side": "right",
            "padding_value": 0.0,
            "return_attention_mask": False,
            "sampling_rate": SAMPLE_RATE,
        },
        indent=2,
    )


def write_ct2(
    state: dict,
    dims: dict,
    out: Path,
    tokenizer_text: str | None = None,
    generation: dict | None = None,
    quantization: str = CT2_QUANTIZATION,
    preprocessor_text: str | None = None,
) -> Path:
    """Write a CTranslate2 Whisper folder (what faster-whisper loads) from an openai-whisper
    state dict: ``model.bin`` through ctranslate2's own WhisperSpec, ``config.json``,
    ``vocabulary.json``, ``tokenizer.json`` and ``preprocessor_config.json``."""
    import numpy as np
    import torch
    from ctranslate2.specs import whisper_spec

    dims = check_whisper_state(state, dims, "the model")
    n_vocab = dims["n_vocab"]
    tokenizer_text = tokenizer_text or whisper_tokenizer_json(n_vocab)
    tokens = tokenizer_vocabulary(tokenizer_text, n_vocab)

    def arr(name: str):
        tensor = state[name].detach().cpu()
        return (
            tensor if tensor.dtype in (torch.float16, torch.float32) else tensor.float()
        ).numpy()

    def linear(spec, name: str) -> None:
        spec.weight, spec.bias = arr(f"{name}.weight"), arr(f"{name}.bias")

    def norm(spec, name: str) -> None:
        spec.gamma, spec.beta = arr(f"{name}.weight"), arr(f"{name}.bias")

    def fused(spec, names: list[str]) -> None:  # [q;k;v] or [k;v]; Whisper's key has no bias
        weights = [arr(f"{n}.weight") for n in names]
        spec.weight = np.concatenate(weights)
        spec.bias = np.concatenate(
            [
                arr(f"{n}.bias") if f"{n}.bias" in state else np.zeros(w.shape[0], w.dtype)
                for n, w in zip(names, weights)
            ]
        )

    spec = whisper_spec.WhisperSpec(
        dims["n_audio_layer"], dims["n_audio_head"], dims["n_text_layer"], dims["n_text_head"]
    )
    encoder, decoder = spec.encoder, spec.decoder
    linear(encoder.conv1, "encoder.conv1")
    linear(encoder.conv2, "encoder.conv2")
    encoder.position_encodings.encodings = arr("encoder.positional_embedding")
    norm(encoder.layer_norm, "encoder.ln_post")
    embeddings = arr("decoder.token_embedding.weight")
    decoder.embeddings.weight = embeddings
    decoder.projection.weight = embeddings  # tied; saved once, as an alias
    decoder.position_encodings.encodings = arr("decoder.positional_embedding")
    norm(decoder.layer_norm, "decoder.ln")
    for side, layers in (("encoder", encoder.layer), ("decoder", decoder.layer)):
        for i, layer in enumerate(layers):
            src = f"{side}.blocks.{i}"
            fused(
                layer.self_attention.linear[0],
                [f"{src}.attn.query", f"{src}.attn.key", f"{src}.attn.value"],
            )
            linear(layer.self_attention.linear[1], f"{src}.attn.out")
            norm(layer.self_attention.layer_norm, f"{src}.attn_ln")
            if side == "decoder":
                linear(layer.attention.linear[0], f"{src}.cross_attn.query")
                fused(
                    layer.attention.linear[1], [f"{src}.cross_attn.key", f"{src}.cross_attn.value"]
                )
                linear(layer.attention.linear[2], f"{src}.cross_attn.out")
                norm(layer.attention.layer_norm, f"{src}.cross_attn_ln")
            linear(layer.ffn.linear_0, f"{src}.mlp.0")
            linear(layer.ffn.linear_1, f"{src}.mlp.2")
            norm(layer.ffn.layer_norm, f"{src}.mlp_ln")

    for key, value in ct2_config({t: i for i, t in enumerate(tokens)}, dims, generation).items():
        setattr(spec.config, key, value)
    spec.register_vocabulary(tokens)
    try:
        spec.validate()
        spec.optimize(quantization=quantization)
    except ValueError as exc:
        raise ModelError(f"CTranslate2 refused the converted model: {exc}") from None
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
    (out / "tokenizer.json").write_text(tokenizer_text, encoding="utf-8")
    (out / "preprocessor_config.json").write_text(
        preprocessor_text or _preprocessor_config(dims["n_mels"]), encoding="utf-8"
    )
    return out


def ct2_spec_name(model_bin: Path) -> str | None:
    """The spec a CTranslate2 model.bin holds (``WhisperSpec``, ``TransformerSpec``...), or None."""
    try:
        with open(model_bin, "rb") as fh:
            head = fh.read(6)
            (length,) = struct.unpack_from("<H", head, 4)
            return fh.read(length).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None
