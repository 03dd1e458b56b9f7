"""Tune the speaker step's settings on one set of bench/make_speakers.py, and check them on another.

    python bench/tune_speakers.py /tmp/speakers/tuning --encoder resemblyzer
    python bench/tune_speakers.py /tmp/speakers/validation --encoder voicefilter \\
        --prune 0.2 --merge 0.2 --min-windows 3 --overcluster 4 \\
        --small-windows 6 --small-distance 0.25

Segments come from the reference turns (``pipeline.bench_speakers.reference_segments``), so
only the speaker step runs: embeddings once per conversation (kept in ``--embeddings``), then
the clustering for every setting of the grid (or the one given). Prints the settings ranked by
the number of conversations with the exact count, then DER (collar 0.25 s) (``--by der``: DER
first) and, for the best, DER, its parts and the counts found for each number of voices. The test set is not for this script: it is measured once with ``testimony bench
speakers``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline import bench_speakers, media, speakers
from pipeline.textnorm import read_tsv

GRID = {
    "PRUNE": (0.1, 0.2),
    "MERGE_DISTANCE": (0.1, 0.15, 0.2, 0.25),
    "MIN_VOICE_WINDOWS": (2, 3),
    "OVERCLUSTER": (2, 4),
    "SMALL_VOICE_WINDOWS": (3, 5, 6, 7, 8),
    "SMALL_VOICE_DISTANCE": (0.2, 0.25, 0.3, 0.35),
}


def embeddings(folder: Path, encoder: str, keep: Path) -> dict:
    """file -> (turns, segments, times, owners, vectors), embedding each conversation once."""
    truth = defaultdict(list)
    for row in read_tsv(folder / "refs.tsv"):
        truth[row["file"]].append((float(row["start"]), float(row["end"]), row["speaker"]))
    out = {}
    for name, turns in truth.items():
        segments = bench_speakers.reference_segments(turns)
        path = keep / f"{folder.name}-{encoder}-{Path(name).stem}.npz"
        if not path.exists():
            keep.mkdir(parents=True, exist_ok=True)
            audio = media.load_wav(folder / name)
            times, owners, vectors = speakers.embed(audio, segments, encoder)
            np.savez(path, times=times, owners=owners, vectors=vectors)
        data = np.load(path)
        out[name] = (turns, segments, data["times"], data["owners"], data["vectors"])
    return out


def score(data: dict) -> list[dict]:
    """Per conversation: true and found counts and the DER parts (collar 0.25 s)."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    rows = []
    for name, (turns, segments, times, owners, vectors) in data.items():
        labels = speakers.cluster(vectors)
        labelled, _ = speakers.label(segments, times, owners, labels)
        turns_found = [(s.start, s.end, s.speaker or "?") for s in labelled]
        hyp = bench_speakers._annotation(turns_found, name)
        ref = bench_speakers._annotation(turns, name)
        parts = DiarizationErrorRate(collar=0.5)(ref, hyp, detailed=True)
        bare = DiarizationErrorRate(collar=0.0)(ref, hyp, detailed=True)
        rows.append(
            {
                "file": name,
                "speakers_ref": len({t[2] for t in turns}),
                "parts": parts,
                "parts_no_collar": bare,
                "speakers_found": len({s.speaker for s in labelled}),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--encoder", default=speakers.ENCODER)
    parser.add_argument("--embeddings", type=Path, default=Path("/tmp/speaker-embeddings"))
    parser.add_argument("--prune", type=float)
    parser.add_argument("--merge", type=float)
    parser.add_argument("--min-windows", type=int)
    parser.add_argument("--overcluster", type=int)
    parser.add_argument("--small-windows", type=int)
    parser.add_argument("--small-distance", type=float)
    parser.add_argument(
        "--by",
        choices=("der", "exact"),
        default="exact",
        help="rank by the exact count first (then DER), or by DER first",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    data = embeddings(args.folder, args.encoder, args.embeddings)
    given = {
        "PRUNE": args.prune,
        "MERGE_DISTANCE": args.merge,
        "MIN_VOICE_WINDOWS": args.min_windows,
        "OVERCLUSTER": args.overcluster,
        "SMALL_VOICE_WINDOWS": args.small_windows,
        "SMALL_VOICE_DISTANCE": args.small_distance,
    }
    grid = {k: (v,) if v is not None else GRID[k] for k, v in given.items()}
    ranked = []
    for values in itertools.product(*grid.values()):
        for key, value in zip(grid, values):
            setattr(speakers, key, value)
        rows = score(data)
        total = sum(r["parts"]["total"] for r in rows)
        der = sum(r["parts"][k] for r in rows for k in bench_speakers.ERRORS) / total
        exact = sum(r["speakers_ref"] == r["speakers_found"] for r in rows)
        ranked.append((der, -exact, dict(zip(grid, values)), rows))
        print(f"  DER {der:.1%}  exact {exact}/{len(data)}  {ranked[-1][2]}", flush=True)
    ranked.sort(key=lambda r: (r[1], r[0]) if args.by == "exact" else (r[0], r[1]))
    for der, exact, setting, _ in ranked[:10]:
        print(f"DER {der:.1%}  exact {-exact}/{len(data)}  {setting}")
    der, _, setting, rows = ranked[0]
    print(f"\n{args.folder} ({args.encoder}), best {setting}:")
    for line in bench_speakers._table(rows):
        print(line)


if __name__ == "__main__":
    main()
