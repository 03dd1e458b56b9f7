"""Which of the pipeline's measures moves Kazakh WER and CER by how much.

    python bench/ablation.py ../shared/evaldata/kk/references.tsv HOME

Runs ``asr.transcribe`` on every clip with faster-whisper (the same weights as the default
engine, four times faster, so that the whole table takes minutes), greedy unless a row says
otherwise, switching one measure off at a time. HOME is a home folder with the embedded model
prepared (``testimony models prepare``). Scored with ``pipeline/textnorm.py``, as
``testimony bench asr`` scores.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline import asr, config, engines, media, models, textnorm  # noqa: E402


def score(engine, rows, audios, **options) -> tuple[float, float, float]:
    word_edits = words = char_edits = chars = 0
    started = time.monotonic()
    for row, audio in zip(rows, audios):
        segments = asr.transcribe(engine, audio, "kk", asr.DecodeOptions(**options)).segments
        hyp = " ".join(s.text for s in segments)
        ref, hyp = textnorm.normalize(row["transcript"], "kk"), textnorm.normalize(hyp, "kk")
        word_edits += textnorm.edit_distance(ref.split(), hyp.split())
        words += len(ref.split())
        char_edits += textnorm.edit_distance(ref, hyp)
        chars += len(ref)
    return word_edits / words, char_edits / chars, time.monotonic() - started


def main(refs: Path, home: Path) -> None:
    settings = config.load(home)
    with open(refs, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    audios = []
    with tempfile.TemporaryDirectory() as work:
        for n, row in enumerate(rows):
            wav = Path(work) / f"{n}.wav"
            media.extract_audio(refs.parent / row["file"], wav)
            audios.append(media.load_wav(wav))
    engine = engines.load(
        "faster-whisper", models.resolve_ct2(settings, "base")[0], settings.threads
    )
    collapse, label, cyrillic = asr.collapse_loops, asr.language_check.label, set(asr.CYRILLIC)

    def off(loops=False, script=False, labels=False):
        asr.collapse_loops = (lambda text, **_: (text, False)) if loops else collapse
        asr.language_check.label = (lambda text: None) if labels else label
        asr.CYRILLIC.clear()
        asr.CYRILLIC.update(set() if script else cyrillic)

    rows_out = [
        ("all measures, greedy (the default)", {}, {"fallback": False}),
        ("all measures, with temperature fallback", {}, {"fallback": True}),
        ("without the loop guard", {"loops": True}, {"fallback": False}),
        ("without Cyrillic-only decoding", {"script": True}, {"fallback": False}),
        ("without segment language labels", {"labels": True}, {"fallback": False}),
        ("without voice activity detection", {}, {"fallback": False, "vad": False}),
        ("beam search 5 instead of greedy", {}, {"fallback": False, "beam_size": 5}),
        (
            "none of the measures, greedy",
            {"loops": True, "script": True, "labels": True},
            {"fallback": False, "vad": False},
        ),
    ]
    print("| faster-whisper on the Kazakh dev clips | WER | CER | seconds |\n|---|---|---|---|")
    for name, switches, options in rows_out:
        off(**switches)
        wer, cer, seconds = score(engine, rows, audios, **options)
        print(f"| {name} | {wer:.3f} | {cer:.3f} | {seconds:.0f} |", flush=True)
    off()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
