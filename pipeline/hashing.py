"""SHA-256 of a file, read in blocks: the one way originals, models, outputs and packets are hashed.

A low module, so that the custody log, the model registry and exports share it without
importing each other.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
