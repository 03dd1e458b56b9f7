"""Split a dev set into clips to tune on and clips held out, before anything is tuned.

    python bench/split_dev.py ../shared/evaldata/ru /tmp/split/ru

writes ``tuning.tsv`` and ``held-out.tsv`` (every column, with absolute paths: the
references format that ``testimony bench asr`` and ``bench protect`` read). The rule is fixed
and blind to results: the clips at odd positions of ``references.tsv`` (1st, 3rd, ...) are for
tuning, those at even positions are held out. A change is tried and chosen on the tuning
clips only; its held-out figure is reported once, after the choice, and never used to choose.
The Kazakh 10-minute interview (bench/make_interview.py) repeats every Kazakh clip, so it is
not held out.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def main(evaldata: Path, out: Path) -> None:
    with open(evaldata / "references.tsv", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        columns, rows = list(reader.fieldnames or []), list(reader)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("tuning", rows[0::2]), ("held-out", rows[1::2])):
        with open(out / f"{name}.tsv", "w", encoding="utf-8", newline="") as fh:
            # Every column kept: `bench protect` reads the source recording's column too.
            writer = csv.DictWriter(
                fh, columns, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n"
            )
            writer.writeheader()
            for row in part:
                writer.writerow({**row, "file": str((evaldata / row["file"]).resolve())})
        print(
            f"{out / name}.tsv: {len(part)} clips ({', '.join(Path(r['file']).stem for r in part)})"
        )


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
