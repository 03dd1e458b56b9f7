"""``testimony bench faces``: the share of frames with a face in which the face is covered.

No video of real faces ships with the project, so the video is made here from the one
photograph of a face that an installed wheel carries (matplotlib's sample of Grace Hopper),
moved across a 640x360 picture at 25 frames a second, in conditions that an interview meets:
a large or small face, a tilted head, a dark room, a face half covered, fast movement. The
face's box in the photograph (found by the detector in the full-size photograph and checked by
eye) moves with it; a frame counts as covered when the blur covers at least COVERED of the
middle of that box (eyes, nose and mouth: INNER_MARGIN off each side). The figures are for
this one face and these made-up conditions; profile views and real
camera noise cannot be made from one frontal photograph and are not measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .console import require_extra

WIDTH, HEIGHT, RATE, SECONDS = 640, 360, 25.0, 2.0
COVERED = 0.9
INNER_MARGIN = 0.15
FACE_IN_PHOTO = (148, 101, 380, 333)  # x0, y0, x1, y1 in grace_hopper.jpg (512x600)
# name: (face height as a share of the picture, tilt in degrees, brightness, lower half covered,
#        picture widths moved per second)
CONDITIONS = {
    "large face, still": (0.45, 0, 1.0, False, 0.05),
    "small face (1/8 of the height)": (0.125, 0, 1.0, False, 0.05),
    "head tilted 20 degrees": (0.45, 20, 1.0, False, 0.05),
    "head tilted 40 degrees": (0.45, 40, 1.0, False, 0.05),
    "dark room (35 % brightness)": (0.45, 0, 0.35, False, 0.05),
    "lower half covered (hand, scarf)": (0.45, 0, 1.0, True, 0.05),
    "moving fast (half the width a second)": (0.45, 0, 1.0, False, 0.5),
}


def _photo() -> np.ndarray:
    import cv2
    import matplotlib

    return cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))


def frames(condition: tuple) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame, mask of the face's pixels) for each frame of a condition."""
    import cv2

    share, tilt, light, covered, speed = condition
    photo = _photo()
    x0, y0, x1, y1 = FACE_IN_PHOTO
    scale = share * HEIGHT / (y1 - y0)
    image = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # The eyes, nose and mouth: the face's box less INNER_MARGIN of it on every side.
    mx, my = (x1 - x0) * INNER_MARGIN, (y1 - y0) * INNER_MARGIN
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[
        int((y0 + my) * scale) : int((y1 - my) * scale),
        int((x0 + mx) * scale) : int((x1 - mx) * scale),
    ] = 255
    if covered:
        image[int((y0 + y1) / 2 * scale) : int(y1 * scale), int(x0 * scale) : int(x1 * scale)] = (
            60,
            70,
            90,
        )
    if tilt:
        h, w = image.shape[:2]
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)
        image = cv2.warpAffine(image, turn, (w, h), borderValue=(90, 90, 90))
        mask = cv2.warpAffine(mask, turn, (w, h))
    image = np.clip(image.astype(np.float32) * light, 0, 255).astype(np.uint8)
    h, w = image.shape[:2]
    out = []
    for n in range(int(RATE * SECONDS)):
        frame = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
        truth = np.zeros((HEIGHT, WIDTH), bool)
        x = int(20 + speed * WIDTH * n / RATE) % max(1, WIDTH - w)
        y = max(0, (HEIGHT - h) // 2)
        part = image[: HEIGHT - y, : WIDTH - x]
        frame[y : y + part.shape[0], x : x + part.shape[1]] = part
        truth[y : y + part.shape[0], x : x + part.shape[1]] = (
            mask[: part.shape[0], : part.shape[1]] > 0
        )
        out.append((frame, truth))
    return out


def recall(condition: tuple) -> dict:
    """Shares of frames whose face the detector alone found, and that the export covered."""
    from .export import faces

    detector = faces.Detector()
    made = frames(condition)
    found = 0
    for frame, truth in made:
        found += _covers([faces.padded(b, WIDTH, HEIGHT) for b in detector.find(frame)], truth)
    blurrer = faces.Blurrer(RATE, detector)
    covered = []
    for frame, _ in made:
        covered += [boxes for _, boxes in blurrer.push(frame.copy())]
    covered += [boxes for _, boxes in blurrer.finish()]
    hits = sum(
        _covers([faces.padded(b, WIDTH, HEIGHT) for b in boxes], truth)
        for boxes, (_, truth) in zip(covered, made)
    )
    return {
        "frames": len(made),
        "detector_alone": round(found / len(made), 3),
        "covered": round(hits / len(made), 3),
    }


def _covers(boxes: list, truth: np.ndarray) -> bool:
    blurred = np.zeros_like(truth)
    for x0, y0, x1, y1 in boxes:
        blurred[y0:y1, x0:x1] = True
    return truth.sum() > 0 and (blurred & truth).sum() >= COVERED * truth.sum()


def bench_faces(
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the figures here."),
):
    """Face blurring: share of frames whose face is covered, per condition, on a made-up video."""
    require_extra("bench", "matplotlib")
    figures = {}
    typer.echo(f"{'condition':<40} {'detector alone':>15} {'covered':>8}")
    for name, condition in CONDITIONS.items():
        figures[name] = recall(condition)
        typer.echo(
            f"{name:<40} {figures[name]['detector_alone']:>15.0%} {figures[name]['covered']:>8.0%}"
        )
    if json_out:
        json_out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
