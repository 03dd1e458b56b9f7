"""Argos Translate packages (``.argosmodel``): installed with argostranslate's own installer
under ``models/argos``, and recorded by the SHA-256 of the package file."""

from __future__ import annotations

from pathlib import Path

from .. import translate
from ..config import Settings
from .common import sha256_file


def add_package(settings: Settings, path: Path) -> dict:
    """Install one ``.argosmodel`` file; returns what ``models add`` reports about it."""
    digest = sha256_file(path)
    installed = translate.install_package(settings, path)
    return {"name": installed, "kind": "argos", "source": str(path), "sha256": digest}
