"""Who speaks when: speaker turns from voice embeddings, offline.

Every interview has at least two voices. The speech is cut into 1.6 s windows, and each window becomes a voice embedding from resemblyzer's voice encoder (GE2E,
trained weights shipped inside its wheel, so nothing is downloaded). The windows are
clustered with scikit-learn's agglomerative clustering: the number of speakers is found by a
cosine distance threshold (average linkage), or fixed when the settings or the sidecar give it
(``speakers = 2``; Ward linkage then, which splits the voices evenly rather than a stray window
off). Segments are split on word boundaries where the speaker changes, and the
speakers are labelled S1, S2, ... in order of first appearance; a reviewer names them later.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from .media import SAMPLE_RATE
from .transcript import Segment

log = logging.getLogger(__name__)

FRAMES_PER_S = 100     # resemblyzer's mel frames (10 ms hop)
WINDOW_FRAMES = 160    # the 1.6 s windows the encoder was trained on
WINDOW_EVERY_S = 1.6   # one window per this much speech: each frame read once (sparser windows cost accuracy)
THRESHOLD = 0.45       # cosine distance below which two groups of windows are one voice (bench/make_speakers.py)
MIN_SHARE = 0.05       # a "voice" holding less of the speech than this is folded into the nearest one
SMOOTH = 3             # windows in the majority vote that steadies labels within a segment
MIN_TURN_S = 1.0       # a turn shorter than this inside a segment is not split off
PAUSE_S = 0.3          # segments closer than this are embedded as one stretch of speech
WORD_EDGE_S = 0.3      # a turn's bounds stay this close to its first and last words where they can


@functools.lru_cache(maxsize=1)
def _encoder():
    with warnings.catch_warnings():  # resemblyzer imports the deprecated pkg_resources and scipy paths
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder
    return VoiceEncoder("cpu", verbose=False)


def model_info() -> dict:
    """Names the voice model by its version and the SHA-256 of its weights, for the transcript."""
    weights = Path(importlib.util.find_spec("resemblyzer").origin).with_name("pretrained.pt")
    return {"model": "resemblyzer VoiceEncoder", "version": importlib.metadata.version("resemblyzer"),
            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}


def _windows(mel: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Start frames and the 1.6 s mel windows, one every WINDOW_EVERY_S, the last ending at the end."""
    if len(mel) < WINDOW_FRAMES:
        mel = np.pad(mel, ((0, WINDOW_FRAMES - len(mel)), (0, 0)))
    step = int(WINDOW_EVERY_S * FRAMES_PER_S)
    starts = list(range(0, len(mel) - WINDOW_FRAMES + 1, step))
    if len(mel) - WINDOW_FRAMES - starts[-1] > step // 2:
        starts.append(len(mel) - WINDOW_FRAMES)
    return starts, np.stack([mel[s:s + WINDOW_FRAMES] for s in starts])


def embed(audio: np.ndarray, segments: list[Segment]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window centre times, the segment each window lies in, embeddings) over the speech.

    Segments less than a pause apart are embedded as one stretch, so that short segments still
    get whole windows rather than windows padded with silence. Windows follow each other
    without overlap: the encoder's cost grows with the audio it reads."""
    import torch

    encoder = _encoder()  # first: it imports resemblyzer with its deprecation warnings silenced
    from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram
    stretches: list[list[float]] = []
    for seg in sorted(segments, key=lambda s: s.start):
        if stretches and seg.start - stretches[-1][1] < PAUSE_S:
            stretches[-1][1] = max(stretches[-1][1], seg.end)
        else:
            stretches.append([seg.start, seg.end])
    starts = np.array([s.start for s in segments])
    times, owners, batches = [], [], []
    for start, end in stretches:
        piece = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        if len(piece) < SAMPLE_RATE // 2:
            continue
        mel = wav_to_mel_spectrogram(normalize_volume(piece.astype(np.float32), -30, increase_only=True))
        frames, windows = _windows(mel)
        batches.append(windows)
        for frame in frames:
            centre = start + min(frame + WINDOW_FRAMES / 2, len(mel) / 2 + frame / 2) / FRAMES_PER_S
            inside = [i for i, seg in enumerate(segments) if seg.start <= centre <= seg.end]
            times.append(centre)
            owners.append(inside[0] if inside else int(np.argmin(np.abs(starts - centre))))
    if not batches:
        return np.zeros(0), np.zeros(0, int), np.zeros((0, 256), np.float32)
    with torch.no_grad():
        vectors = encoder(torch.from_numpy(np.concatenate(batches)).to(encoder.device)).cpu().numpy()
    return np.array(times), np.array(owners), vectors


def cluster(vectors: np.ndarray, count: int | None = None, threshold: float = THRESHOLD) -> np.ndarray:
    """A voice number per window: ``count`` voices when given, else as many as the threshold finds."""
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) < 2:
        return np.zeros(len(vectors), int)
    if count:  # Ward on unit vectors: average linkage forced to a count split off one stray window first
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return AgglomerativeClustering(n_clusters=min(count, len(vectors)), linkage="ward").fit_predict(unit)
    labels = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="cosine",
                                     linkage="average").fit_predict(vectors)
    sizes = np.bincount(labels)
    keep = [k for k in range(len(sizes)) if sizes[k] >= MIN_SHARE * len(labels)] or [int(sizes.argmax())]
    centres = np.array([vectors[labels == k].mean(axis=0) for k in keep])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return np.array([keep.index(k) if k in keep else int(np.argmax(centres @ v)) for k, v in zip(labels, vectors)])


def _smoothed(labels: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """A majority vote over neighbouring windows of the same segment, against one-window flickers."""
    out = labels.copy()
    half = SMOOTH // 2
    for i in range(len(labels)):
        near = [labels[j] for j in range(max(i - half, 0), min(i + half + 1, len(labels))) if owners[j] == owners[i]]
        out[i] = np.bincount(near).argmax()
    return out


def _turns(seg: Segment, times: np.ndarray, labels: np.ndarray) -> list[tuple[int, list[dict]]]:
    """(voice, words) runs of the segment; a whole segment without words is one run."""
    if len(times) == 0:
        return []
    if not seg.words:
        return [(int(np.bincount(labels).argmax()), [])]
    runs: list[tuple[int, list[dict]]] = []
    for w in seg.words:
        voice = int(labels[np.argmin(np.abs(times - (w["start"] + w["end"]) / 2))])
        if runs and runs[-1][0] == voice:
            runs[-1][1].append(w)
        else:
            runs.append((voice, [w]))
    changed = True
    while changed and len(runs) > 1:  # fold the shortest too-short run into a neighbour
        changed = False
        spans = [r[1][-1]["end"] - r[1][0]["start"] for r in runs]
        i = int(np.argmin(spans))
        if spans[i] < MIN_TURN_S:
            j = i - 1 if i > 0 and (i + 1 >= len(runs) or spans[i - 1] >= spans[i + 1]) else i + 1
            lo, hi = min(i, j), max(i, j)
            runs[lo:hi + 1] = [(runs[j][0], runs[lo][1] + runs[hi][1])]
            changed = True
    merged: list[tuple[int, list[dict]]] = []
    for voice, words in runs:
        if merged and merged[-1][0] == voice:
            merged[-1][1].extend(words)
        else:
            merged.append((voice, words))
    return merged


def _change_time(last_end: float, next_start: float, voice: int, times: np.ndarray, labels: np.ndarray) -> float:
    """Where one turn gives way to the next, between the last word of the one and the first word
    of the other: where the windows first hear the next voice, else at its first word, and within
    WORD_EDGE_S of both words where the pause allows. The turns share the boundary, so the
    segment's speech stays covered."""
    if next_start <= last_end:
        return next_start
    heard = times[(labels == voice) & (times > last_end) & (times < next_start)]
    onset = heard.min() - WINDOW_FRAMES / FRAMES_PER_S / 2 if len(heard) else next_start
    lo, hi = max(last_end, next_start - WORD_EDGE_S), min(next_start, last_end + WORD_EDGE_S)
    if lo > hi + 1e-6:  # a longer pause: the boundary goes where the next voice is heard
        lo, hi = last_end, next_start
    return float(min(max(onset, lo), hi))


def label(segments: list[Segment], times: np.ndarray, owners: np.ndarray, labels: np.ndarray) -> list[Segment]:
    """The segments split where the voice changes, labelled S1, S2... in order of first appearance."""
    labels = _smoothed(labels, owners)
    out: list[Segment] = []
    for i, seg in enumerate(segments):
        mine = owners == i
        if not mine.any() and len(times):  # too short for a window of its own: the nearest one's voice
            mine = np.arange(len(times)) == np.argmin(np.abs(times - (seg.start + seg.end) / 2))
        runs = _turns(seg, times[mine], labels[mine])
        if len(runs) <= 1:
            out.append(replace(seg, speaker=runs[0][0] if runs else None))
            continue
        cuts = [seg.start] + [_change_time(runs[n][1][-1]["end"], runs[n + 1][1][0]["start"], runs[n + 1][0],
                                           times[mine], labels[mine]) for n in range(len(runs) - 1)] + [seg.end]
        for n, (voice, words) in enumerate(runs):
            start, end = cuts[n], cuts[n + 1]
            out.append(replace(seg, start=start, end=max(end, start), speaker=voice, words=words,
                               text=" ".join(w["text"] for w in words), flags=list(seg.flags)))
    names: dict[int, str] = {}
    for seg in out:
        if seg.speaker is not None:
            seg.speaker = names.setdefault(seg.speaker, f"S{len(names) + 1}")
    for n, seg in enumerate(out, 1):
        seg.id = n
    return out


def diarise(audio: np.ndarray, segments: list[Segment], count: int | None = None,
            threshold: float = THRESHOLD) -> tuple[list[Segment], dict]:
    """Speaker-labelled segments, and what the transcript records about how they were found."""
    times, owners, vectors = embed(audio, segments)
    labels = cluster(vectors, count, threshold)
    labelled = label(segments, times, owners, labels)
    found = len({s.speaker for s in labelled if s.speaker})
    log.info("speakers: %d found over %d windows (%s)", found, len(times), "count given" if count else "automatic")
    return labelled, {**model_info(), "count": found, "requested_count": count, "threshold": threshold,
                      "window_s": WINDOW_FRAMES / FRAMES_PER_S, "window_every_s": WINDOW_EVERY_S, "min_turn_s": MIN_TURN_S, "names": {}}
