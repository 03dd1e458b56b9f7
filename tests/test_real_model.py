"""The embedded Whisper base, joined from its wheels and converted, on real Russian speech."""

import csv
import json

import pytest

from pipeline import models, textnorm

from conftest import EVALDATA

pytestmark = [pytest.mark.slow, pytest.mark.evaldata]

CLIPS = ["misc/pisets_test_sound_ru.wav", "misc/coqui_stt_smoke_ru.wav", "golos_gigastt/golos_04.wav"]


def test_embedded_base_transcribes_real_russian(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("TESTIMONY_HOME", str(tmp_path))
    refs = {r["file"]: r["transcript"] for r in csv.DictReader(
        open(EVALDATA / "ru" / "references.tsv", encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE)}
    paths = [EVALDATA / "ru" / clip for clip in CLIPS]
    result = cli("process", *paths, "--case", "RU-1")  # no --language: detection picks kk or ru
    assert result.exit_code == 0, result.output

    info = json.loads((tmp_path / "models" / "whisper" / "base.json").read_text())
    assert info["ct2_sha256"] == models.EMBEDDED_CT2_SHA256

    errors = total = 0
    for clip, path in zip(CLIPS, paths):
        [out] = [d for d in (tmp_path / "outbox" / "RU-1").iterdir() if d.name.startswith(path.stem.lower()[:20])]
        data = json.loads((out / "transcript.json").read_text())
        assert data["language"] == "ru" and data["detected_languages"]["ru"] > data["detected_languages"]["kk"]
        hyp = textnorm.normalize(" ".join(s["text"] for s in data["segments"]), "ru").split()
        ref = textnorm.normalize(refs[clip], "ru").split()
        errors += textnorm.edit_distance(ref, hyp)
        total += len(ref)
        assert json.loads((out / "provenance.json").read_text())["model"]["sha256"] == info["sha256"]
    assert errors / total <= 0.25, f"word error rate {errors / total:.2f} on {CLIPS}"
