"""The video with English subtitles, through the same ffmpeg binary as the rest of the pipeline.

Two copies: a soft subtitle track (mov_text) that players can switch on, and the subtitles burned
into the picture (libass) for newsrooms that re-cut footage. Both mute withheld passages and drop
the recording's metadata (titles, device, GPS location), which can identify a family. Protected
exports give a picture with faces blurred and a sound with voices disguised in place of the
recording's own (protect.py).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from ..media import ffmpeg_binary
from .documents import FONT_FAMILY, ExportError, font_files

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
# Picture codecs an MP4 can carry as they are; anything else is re-encoded to H.264.
MP4_VIDEO = {"h264", "hevc", "av1", "vp9", "mpeg4"}
MP4_AUDIO = {"aac", "mp3", "alac"}
BURN_STYLE = f"FontName={FONT_FAMILY},FontSize=14,Outline=1.2,Shadow=0,MarginV=14"
# No encoder version strings or muxer dates: the same input gives the same streams and bytes.
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]


def streams(path: Path) -> list[tuple[str, str]]:
    """(kind, codec) of each stream, read from `ffmpeg -i` so that no ffprobe is needed."""
    proc = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    return [
        (kind.lower(), codec)
        for kind, codec in re.findall(
            r"Stream #\d+:\d+.*?: (Video|Audio|Subtitle|Data): (\w+)", proc.stderr
        )
    ]


def _mute_filter(spans: list[tuple[float, float]]) -> list[str]:
    if not spans:
        return []
    when = "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in spans)
    return ["-af", f"volume=enable='{when}':volume=0"]


def _audio_args(codec: str | None, spans: list[tuple[float, float]]) -> list[str]:
    """Copy the sound when nothing is muted and MP4 can hold it; else encode AAC."""
    if codec is None:
        return []
    if not spans and codec in MP4_AUDIO:
        return ["-c:a", "copy"]
    return [*_mute_filter(spans), "-c:a", "aac", "-b:a", "160k"]


def _run(
    args: list[str], cwd: Path, label: str, duration: float, progress: Progress | None
) -> None:
    """Run ffmpeg, reporting its position as a fraction of ``duration``."""
    cmd = [
        ffmpeg_binary(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-progress",
        "pipe:1",
        "-nostats",
        *args,
    ]
    with tempfile.TemporaryFile("w+", errors="replace") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True)
        for line in proc.stdout:
            if (
                progress
                and duration
                and line.startswith("out_time_us=")
                and line[12:].strip().isdigit()
            ):
                progress(label, min(1.0, int(line[12:]) / 1e6 / duration))
        code = proc.wait()
        if code:
            err.seek(0)
            lines = err.read().strip().splitlines()
            log.error("ffmpeg failed making %s (exit %s)", label, code)
            raise ExportError(
                f"ffmpeg could not make the {label} video: {lines[-1] if lines else f'exit {code}'}"
            )
    if progress:
        progress(label, 1.0)


def _inputs(
    source: Path, picture: Path | None, sound: Path | None
) -> tuple[list[str], dict, str | None]:
    """ffmpeg's inputs (0: picture, 1: sound), the picture's streams and the sound's codec.

    ``picture`` and ``sound`` replace the recording's own (faces blurred, voices disguised).
    """
    kinds = dict(streams(picture or source))
    if "video" not in kinds:
        raise ExportError(
            f"{source.name} has no picture; export subtitles (srt, vtt) instead of video"
        )
    audio = dict(streams(sound)).get("audio") if sound else dict(streams(source)).get("audio")
    return ["-i", str(picture or source), "-i", str(sound or source)], kinds, audio


def soft_subtitled(
    source: Path,
    srt_text: str,
    target: Path,
    spans: list[tuple[float, float]],
    duration: float,
    progress: Progress | None = None,
    picture: Path | None = None,
    sound: Path | None = None,
) -> None:
    """MP4 with the picture as it was (when MP4 can hold it), muted audio and an English track."""
    inputs, kinds, audio = _inputs(source, picture, sound)
    video = (
        ["-c:v", "copy"]
        if kinds["video"] in MP4_VIDEO
        else ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
    )
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        (Path(tmp) / "en.srt").write_text(srt_text, encoding="utf-8")
        _run(
            [
                *inputs,
                "-i",
                "en.srt",
                "-map",
                "0:v:0",
                "-map",
                "1:a:0?",
                "-map",
                "2:0",
                *video,
                *_audio_args(audio, spans),
                "-c:s",
                "mov_text",
                "-metadata:s:s:0",
                "language=eng",
                "-metadata:s:s:0",
                "handler_name=English",
                "-map_metadata",
                "-1",
                "-map_chapters",
                "-1",
                *BITEXACT,
                "-movflags",
                "+faststart",
                str(target),
            ],
            Path(tmp),
            "subtitled",
            duration,
            progress,
        )


def burned_in(
    source: Path,
    srt_text: str,
    target: Path,
    spans: list[tuple[float, float]],
    duration: float,
    progress: Progress | None = None,
    picture: Path | None = None,
    sound: Path | None = None,
) -> None:
    """H.264 MP4 with the English drawn into the picture, in DejaVu Sans (all Cyrillic letters)."""
    inputs, _, audio = _inputs(source, picture, sound)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        work = Path(tmp)
        (work / "en.srt").write_text(srt_text, encoding="utf-8")
        (work / "fonts").mkdir()
        for font in set(font_files()):
            shutil.copy(font, work / "fonts" / font.name)
        # Relative names in the working folder: no path ever needs the filter syntax's escaping.
        drawn = (
            "subtitles=filename=en.srt:fontsdir=fonts:charenc=UTF-8:"
            f"force_style='{BURN_STYLE}',scale=trunc(iw/2)*2:trunc(ih/2)*2"
        )
        _run(
            [
                *inputs,
                "-map",
                "0:v:0",
                "-map",
                "1:a:0?",
                "-vf",
                drawn,
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "20",
                "-pix_fmt",
                "yuv420p",
                *_audio_args(audio, spans),
                "-map_metadata",
                "-1",
                "-map_chapters",
                "-1",
                *BITEXACT,
                "-movflags",
                "+faststart",
                str(target),
            ],
            work,
            "burned-in",
            duration,
            progress,
        )
