"""Argos Translate packages (``.argosmodel``): installed with argostranslate's own installer
under ``models/argos``, and recorded by the SHA-256 of the package file. A package is a zip of
one folder (``metadata.json``, ``model/``, ``sentencepiece.model``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .. import translate
from ..config import Settings
from ..hashing import sha256_file


def add_package(settings: Settings, path: Path) -> dict:
    """Install one ``.argosmodel`` file; returns what ``models add`` reports about it."""
    digest = sha256_file(path)
    installed = translate.install_package(settings, path)
    return {"name": installed, "kind": "argos", "source": str(path), "sha256": digest}


def zip_package(folder: Path, archive: Path) -> Path:
    """Zip a package folder into the ``.argosmodel`` argostranslate installs (the folder on top)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(folder.parent))
    return archive
