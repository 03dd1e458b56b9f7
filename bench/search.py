"""Search at archive size: index size, time to index, and query times by kind of query.

    python bench/search.py [--interviews 10000] [--segments 2000000] [--queries 300] [--db PATH]

Builds a synthetic archive from the evaluation sentences (``evaldata/mt/*.tsv``: Kazakh,
Kyrgyz and Russian with English; ``evaldata/kk/references.tsv``: Kazakh speech transcripts
without English), each segment one sentence, through the same ``search.index_transcript`` the
pipeline uses; one interview in a hundred has a withheld term. Then times ``search.search``
(reviewer and press alternately) for single words drawn from the vocabulary, prefixes (a
word's first 4-6 letters and *), two-word phrases from the sentences, and, as a stress row,
the 20 most frequent words. The target (issue 16) is a 99th-percentile query time under
100 ms on the project's 2-core machine; the load average at the start and end is printed,
since that machine is often shared.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline import search, transcript  # noqa: E402
from pipeline.folding import fold  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVALDATA = Path(os.environ.get("TESTIMONY_EVALDATA", ROOT.parent / "shared" / "evaldata"))
SPEAKERS = ("SPEAKER_1", "SPEAKER_2", "Интервьюер", "Сұхбат беруші")


def sentences(evaldata: Path) -> list[tuple[str, str, str | None]]:
    """(language, sentence, English or None) from the evaluation files."""
    found = []
    for path in sorted((evaldata / "mt").glob("*.tsv")):
        language = path.stem.rsplit("_", 1)[1]
        with open(path, encoding="utf-8") as fh:
            found += [
                (language, row["src"], row["ref_en"])
                for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            ]
    with open(evaldata / "kk" / "references.tsv", encoding="utf-8") as fh:
        found += [
            ("kk", row["transcript"], None)
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]
    if not found:
        sys.exit(f"no evaluation sentences under {evaldata}; set TESTIMONY_EVALDATA")
    return found


def build(db, pool, interviews: int, segments: int, rng: random.Random) -> float:
    per = max(1, segments // interviews)
    words = [w for _, text, _ in pool for w in re.findall(r"\w{5,}", text)]
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    for n in range(interviews):
        case = f"KZ-{n // 5:05d}"
        segs, at = [], 0.0
        for i in range(per):
            language, text, english = pool[rng.randrange(len(pool))]
            length = 2.0 + len(text) / 15
            segs.append(
                transcript.Segment(
                    i + 1,
                    round(at, 2),
                    round(at + length, 2),
                    language,
                    text,
                    english,
                    speaker=SPEAKERS[i % 2 if i % 10 else 2 + (i // 10) % 2],
                )
            )
            at += length
        terms = [rng.choice(words)] if n % 100 == 0 else []
        t = transcript.Transcript(
            interview_id=f"{case}_interview-{n:05d}",
            case_id=case,
            language=segs[0].language,
            source={},
            translation={},
            segments=segs,
            interview={"recorded_on": "2024-05-01", "notes": "synthetic"},
            review={"status": "unreviewed", "reviewers": [], "withheld_terms": terms},
        )
        search.index_transcript(db, t)
        if n % 100 == 99:
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
            print(
                f"\r  indexed {n + 1}/{interviews} interviews", end="", file=sys.stderr, flush=True
            )
    db.execute("COMMIT")
    search.optimize(db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(file=sys.stderr)
    return time.perf_counter() - started


def queries(pool, rng: random.Random, count: int) -> dict[str, list[str]]:
    tokens = [w for _, text, english in pool for w in re.findall(r"\w+", f"{text} {english or ''}")]
    counts = Counter(fold(w).lower() for w in tokens)
    vocabulary = sorted(w for w in counts if len(w) >= 3 and not w.isdigit())
    stems = [w for w in vocabulary if len(w) >= 6]
    pairs = []
    for _, text, _ in pool:
        words = re.findall(r"\w+", text)
        pairs += [f'"{a} {b}"' for a, b in zip(words, words[1:])]
    return {
        "single word": [rng.choice(vocabulary) for _ in range(count)],
        "prefix": [rng.choice(stems)[: rng.randint(4, 6)] + "*" for _ in range(count)],
        "phrase": [rng.choice(pairs) for _ in range(count)],
        "most frequent 20 words": [w for w, _ in counts.most_common(20)],
    }


def measure(db, batch: list[str]) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU milliseconds per query; CPU time is what a shared machine cannot inflate."""
    wall, cpu, hits = [], [], 0
    for n, query in enumerate(batch):
        started, used = time.perf_counter(), time.process_time()
        hits += len(search.search(db, query, role=("reviewer", "press")[n % 2]).hits)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu, hits


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interviews", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=2_000_000)
    parser.add_argument("--queries", type=int, default=300, help="queries of each kind")
    parser.add_argument(
        "--db", type=Path, help="database file to build (default: a temporary one, removed)"
    )
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--reuse", action="store_true", help="query the archive already built at --db"
    )
    args = parser.parse_args()
    rng = random.Random(
        args.seed
    )  # the queries; the archive has its own, so --reuse asks the same ones
    pool = sentences(EVALDATA)
    folder = None
    if args.db is None:
        folder = tempfile.TemporaryDirectory(prefix="bench-search-")
        args.db = Path(folder.name) / "testimony.db"
    if not args.reuse:
        args.db.unlink(missing_ok=True)
    print(
        f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        file=sys.stderr,
    )
    db = search.connect(args.db)
    if not args.reuse:
        seconds = build(db, pool, args.interviews, args.segments, random.Random(args.seed + 1))
        counted = search.stats(db)
        size = sum(p.stat().st_size for p in args.db.parent.glob(args.db.name + "*"))
        print(
            f"\n{counted['interviews']:,} interviews, {counted['segments']:,} segments from {len(pool)} sentences; "
            f"index {size / 2**20:,.0f} MiB ({size / counted['segments']:.0f} bytes a segment, with the text); "
            f"indexed in {seconds:,.0f} s ({counted['segments'] / seconds:,.0f} segments/s)\n"
        )
    print(
        "| queries | kind | median ms | p99 ms | max ms | CPU median ms | CPU p99 ms | hits returned |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind, batch in queries(pool, rng, args.queries).items():
        measure(db, batch[:5])  # warm the page cache as a running server would be
        wall, cpu, hits = measure(db, batch)
        print(
            f"| {len(batch)} | {kind} | {statistics.median(wall):.1f} | {p99(wall):.1f} | {max(wall):.1f} "
            f"| {statistics.median(cpu):.1f} | {p99(cpu):.1f} | {hits / len(batch):.0f} avg |"
        )
    db.close()
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if folder:
        folder.cleanup()


if __name__ == "__main__":
    main()
