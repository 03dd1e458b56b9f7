"""Face blurring: every face the detector finds, in every frame, hidden under a heavy blur.

The detector is OpenCV's Haar cascades (frontal, upright and tilted TILT degrees either way;
profile, facing either way), whose weights ship in the opencv-python-headless wheel: nothing
is downloaded. Detection runs on every DETECT_EVERY_S
of picture, on a copy at most DETECT_WIDTH wide. Between two detections the frames are covered
by the boxes of both (the face moves between them), and a face the detector loses stays covered
for HOLD_S after it was last seen, so a turned head or a blink of the detector does not
uncover it. Boxes are padded by PAD on every side. What it misses: see docs/protection.md.

Frames pass from ffmpeg to here and back as raw pixels; the result is an H.264 video with no
sound, which the subtitling step then takes as its picture.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..media import ffmpeg_binary
from .documents import ExportError

DETECT_EVERY_S = 0.25
DETECT_WIDTH = 480
HOLD_S = 1.0
PAD = 0.25  # of the box's width and height, on each side
MIN_FACE = 24  # pixels, in the detection copy
TILT = 20  # degrees: frontal faces are also looked for in copies turned this much either way
BLOCKS = 6  # a covered face keeps about this many colour blocks across, then is blurred
CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml")

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-size pixels


@dataclass
class Report:
    """What the blurring did, by counts only."""

    frames: int = 0
    frames_with_faces: int = 0
    detections: int = 0


class Detector:
    """The cascades, loaded once; ``find`` gives face boxes in full-size pixels."""

    def __init__(self):
        import cv2

        self.cv2 = cv2
        self.cascades = []
        for name in CASCADES:
            cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
            if cascade.empty():
                raise ExportError(
                    f"the face detector's weights ({name}) are missing from OpenCV: "
                    f"reinstall opencv-python-headless (pyproject.toml names the version)"
                )
            self.cascades.append((name, cascade))

    def find(self, frame: np.ndarray) -> list[Box]:
        cv2 = self.cv2
        height, width = frame.shape[:2]
        scale = min(1.0, DETECT_WIDTH / width)
        small = cv2.resize(
            frame, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA
        )
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        centre = (gray.shape[1] / 2, gray.shape[0] / 2)
        found: list[Box] = []
        for name, cascade in self.cascades:
            # Profiles both ways; frontal faces upright and with the head tilted either way.
            views = (
                [(False, 0), (True, 0)]
                if "profile" in name
                else [(False, 0), (False, -TILT), (False, TILT)]
            )
            for mirror, tilt in views:
                image = cv2.flip(gray, 1) if mirror else gray
                turn = cv2.getRotationMatrix2D(centre, tilt, 1.0)
                if tilt:
                    image = cv2.warpAffine(image, turn, (image.shape[1], image.shape[0]))
                back = cv2.invertAffineTransform(turn)
                for x, y, w, h in cascade.detectMultiScale(
                    image, 1.1, 3, minSize=(MIN_FACE, MIN_FACE)
                ):
                    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], float)
                    corners = corners @ back[:, :2].T + back[:, 2]
                    if mirror:
                        corners[:, 0] = image.shape[1] - corners[:, 0]
                    x0, y0 = corners.min(axis=0) / scale
                    x1, y1 = corners.max(axis=0) / scale
                    found.append((int(x0), int(y0), int(x1), int(y1)))
        return found


def padded(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    dx, dy = int((x1 - x0) * PAD), int((y1 - y0) * PAD)
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)


def cover(frame: np.ndarray, boxes: list[Box]) -> None:
    """Blur each box in place: shrunk to a few blocks, enlarged, then smoothed."""
    import cv2

    height, width = frame.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = padded(box, width, height)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        region = frame[y0:y1, x0:x1]
        blocks = cv2.resize(
            region, (BLOCKS, max(1, BLOCKS * (y1 - y0) // (x1 - x0))), interpolation=cv2.INTER_AREA
        )
        big = cv2.resize(blocks, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        kernel = max(3, ((x1 - x0) // 4) | 1)
        frame[y0:y1, x0:x1] = cv2.GaussianBlur(big, (kernel, kernel), 0)


@dataclass
class Tracker:
    """Faces between detections: each found box is held for ``hold`` frames after it was seen."""

    hold: int
    tracks: list[tuple[Box, int]] = field(default_factory=list)  # (box, frame last seen)

    def update(self, found: list[Box], frame: int) -> list[Box]:
        kept = [
            (box, seen)
            for box, seen in self.tracks
            if frame - seen <= self.hold and not any(_overlap(box, new) for new in found)
        ]
        self.tracks = kept + [(box, frame) for box in found]
        return [box for box, _ in self.tracks]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _picture(source: Path) -> tuple[int, int, float]:
    """Width and height of the decoded (rotated) picture, and its frame rate."""
    probe = subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-nostdin",
            "-i",
            str(source),
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        capture_output=True,
    )
    text = probe.stderr.decode("utf-8", "replace")
    out = re.search(r"Output #0.*?Video: rawvideo.*?, (\d+)x(\d+)", text, re.S)
    rate = re.search(r"Stream #0:\d+.*?Video:.*?(\d+(?:\.\d+)?) fps", text)
    if probe.returncode or not out:
        raise ExportError(f"ffmpeg could not read the picture of {source.name} to blur faces")
    return int(out.group(1)), int(out.group(2)), float(rate.group(1)) if rate else 25.0


class Blurrer:
    """Frames in, covered frames out, in order; a frame leaves once the next detection is made."""

    def __init__(self, rate: float, detector: Detector | None = None):
        self.every = max(1, round(rate * DETECT_EVERY_S))
        self.detector = detector or Detector()
        self.tracker = Tracker(hold=round(rate * HOLD_S))
        self.report = Report()
        self.pending: list[np.ndarray] = []
        self.before: list[Box] = []
        self.count = 0

    def _cover(
        self, frames: list[np.ndarray], boxes: list[Box]
    ) -> list[tuple[np.ndarray, list[Box]]]:
        for frame in frames:
            cover(frame, boxes)
        self.report.frames += len(frames)
        self.report.frames_with_faces += len(frames) if boxes else 0
        return [(frame, boxes) for frame in frames]

    def push(self, frame: np.ndarray) -> list[tuple[np.ndarray, list[Box]]]:
        """Covered frames now ready (with the boxes covered in each), oldest first."""
        n, self.count = self.count, self.count + 1
        if n % self.every:
            self.pending.append(frame)
            return []
        found = self.detector.find(frame)
        self.report.detections += len(found)
        now = self.tracker.update(found, n)
        # The frames between two detections: both detections' boxes, as the face moved between them.
        ready = self._cover(self.pending, self.before + now) + self._cover([frame], now)
        self.pending, self.before = [], now
        return ready

    def finish(self) -> list[tuple[np.ndarray, list[Box]]]:
        ready = self._cover(self.pending, self.before)
        self.pending = []
        return ready


def blur_faces(source: Path, target: Path, progress=None, duration: float = 0.0) -> Report:
    """Write ``target``: the picture of ``source`` with every detected face blurred, no sound."""
    width, height, rate = _picture(source)
    size = width * height * 3
    blurrer = Blurrer(rate)
    ffmpeg = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    with tempfile.TemporaryFile() as err:
        reader = subprocess.Popen(
            [
                *ffmpeg,
                "-i",
                str(source),
                "-map",
                "0:v:0",
                "-vf",
                f"fps={rate}",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "bgr24",
                "-",
            ],
            stdout=subprocess.PIPE,
            stderr=err,
        )
        writer = subprocess.Popen(
            [
                *ffmpeg,
                "-y",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "bgr24",
                "-s",
                f"{width}x{height}",
                "-framerate",
                str(rate),
                "-i",
                "-",
                "-vf",
                "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "18",
                "-pix_fmt",
                "yuv420p",
                "-fflags",
                "+bitexact",
                "-flags:v",
                "+bitexact",
                str(target),
            ],
            stdin=subprocess.PIPE,
            stderr=err,
        )
        try:
            while len(data := reader.stdout.read(size)) == size:
                frame = np.frombuffer(data, np.uint8).reshape(height, width, 3).copy()
                for ready, _ in blurrer.push(frame):
                    writer.stdin.write(ready.tobytes())
                if progress and duration and blurrer.count % 25 == 0:
                    progress("faces", min(1.0, blurrer.count / rate / duration))
            for ready, _ in blurrer.finish():
                writer.stdin.write(ready.tobytes())
        except BrokenPipeError:
            pass
        writer.stdin.close()
        codes = reader.wait(), writer.wait()
        if any(codes) or blurrer.report.frames == 0:
            err.seek(0)
            lines = err.read().decode("utf-8", "replace").strip().splitlines()
            raise ExportError(f"ffmpeg could not blur the faces: {lines[-1] if lines else codes}")
    if progress:
        progress("faces", 1.0)
    return blurrer.report
