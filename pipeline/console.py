"""What every ``testimony`` subcommand shares: settings and the log file, errors, progress lines.

Its own module so that command modules (export, review, models, ...) use it without importing
the main command, which imports them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import sys
from pathlib import Path

import typer

from . import config
from .store import Job


def load_settings(allow_download: bool = False, model: str | None = None) -> config.Settings:
    """The home's settings with command-line overrides, its folders made and its log file open."""
    try:
        settings = config.load()
    except config.SettingsError as exc:
        die(str(exc))
    if allow_download or model:
        settings = dataclasses.replace(
            settings,
            allow_download=allow_download or settings.allow_download,
            whisper_model=model or settings.whisper_model,
            # a model named on the command line is used for every language
            language_models=() if model else settings.language_models,
        )
    settings.ensure_dirs()
    setup_logging(settings)
    return settings


def setup_logging(settings: config.Settings) -> None:
    """Log file under the home folder: IDs, paths and stages, never transcript text."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        if Path(old.baseFilename) == settings.log_file:
            return
        root.removeHandler(old)
        old.close()
    handler = logging.FileHandler(settings.log_file, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def die(message: str, code: int = 1):
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


class Bar:
    """One progress line on stderr per piece of work; full lines every 10% when not a terminal."""

    def __init__(self):
        self.last: tuple[str, int] | None = None

    def __call__(self, job: Job, stage: str, fraction: float) -> None:
        self.show(job.interview_id, stage, fraction)

    def show(self, name: str, stage: str, fraction: float) -> None:
        pct = int(fraction * 100)
        tty = sys.stderr.isatty()
        key = (f"{name} {stage}", pct if tty else pct // 10)
        if key == self.last:
            return
        self.last = key
        line = f"{name}: {stage:<10} {pct:3d}%"
        if tty:
            sys.stderr.write("\r" + line + ("\n" if pct >= 100 else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def require_extra(extra: str, *modules: str) -> None:
    """Stop with what to install when a command needs packages of an optional extra (found
    before any work starts, not after an hour of decoding)."""
    if (message := missing_extra(extra, *modules)) is not None:
        die(message)


def missing_extra(extra: str, *modules: str) -> str | None:
    """What to install when some of an optional extra's packages are missing; None if none is."""
    missing = [m for m in modules if not _importable(m)]
    if not missing:
        return None
    return (
        f"this command needs {', '.join(missing)}, from the {extra} extra: "
        f"pip install 'testimony-pipeline[{extra}]'"
    )


def _importable(module: str) -> bool:
    if module in sys.modules:  # imported already (kombu then has no __spec__ for find_spec), or
        return sys.modules[module] is not None  # None: Python's mark of a blocked import
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, or one blocked in sys.modules
        return False
