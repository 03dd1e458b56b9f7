"""Markdown table of `testimony bench asr --json` outputs, for docs/benchmarks.md.

python bench/table.py out/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pct(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def main(paths: list[str]) -> None:
    print(
        "| run | system | clips | audio s | WER | CER | RTF | load s | peak MB | flagged CER>0.5 | flagged CER<0.15 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for key in ("pipeline", "baseline"):
            f = data.get(key)
            if not f:
                continue
            print(
                f"| {Path(path).stem} | {f['system']} | {len(f['clips'])} | {f['audio_s']:.0f} | {f['wer']:.3f} | "
                f"{f['cer']:.3f} | {f['rtf']:.3f} | {f['load_s']:.1f} | {f['peak_mb']:.0f} | "
                f"{pct(f.get('flagged_share_cer_above_0.5'))} ({f.get('clips_cer_above_0.5', '-')}) | "
                f"{pct(f.get('flagged_share_cer_below_0.15'))} ({f.get('clips_cer_below_0.15', '-')}) |"
            )
        if data.get("ratio"):
            r = data["ratio"]
            print(
                f"| {Path(path).stem} | ratio pipeline/baseline | | | {r['wer']:.2f} | {r['cer']:.2f} | {r['rtf']:.2f} "
                f"| {r['load_s']:.2f} | {r['peak_mb']:.2f} | | |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
