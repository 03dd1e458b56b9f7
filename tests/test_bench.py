"""`testimony bench`: the text normalisation, and both commands end to end on tiny models."""

import json
import sys

import pytest
from typer.testing import CliRunner

from pipeline import textnorm
from pipeline.bench import bench_app

from builders import tiny_argos_package
from conftest import KK_CLIP


def bench(*args):
    return CliRunner().invoke(bench_app, [str(a) for a in args], catch_exceptions=False)


def test_normalisation_is_applied_alike_to_both_sides():
    assert textnorm.normalize("Ёлка, 42 дома — «ТВ»!", "ru") == "елка сорок два дома тв"
    assert textnorm.normalize("Мен 5-ші сыныпта", "kk") == "мен бес ші сыныпта"
    assert textnorm.normalize("Ал 5-ші", "ky") == "ал 5 ші"  # num2words has no Kyrgyz: digits stay
    assert textnorm.edit_distance("мен осы".split(), "мен сол осы".split()) == 1


def test_bench_asr_scores_the_pipeline_against_bare_whisper(home, tmp_path):
    refs = tmp_path / "references.tsv"
    refs.write_text(f"file\ttranscript\n{KK_CLIP}\tбіз жұмыс жасаймыз\n", encoding="utf-8")
    out = tmp_path / "bench.json"
    result = bench("asr", refs, "--language", "kk", "--json", out, "--baseline")
    assert result.exit_code == 0, result.output
    for label in (
        "WER",
        "CER",
        "real-time factor",
        "model load seconds",
        "peak memory MB",
        "flagged, of clips with CER > 0.5",
        "flagged, of clips with CER < 0.15",
    ):
        assert label in result.output
    data = json.loads(out.read_text())
    [clip] = data["pipeline"]["clips"]
    assert set(clip) >= {"file", "ref", "hyp", "audio_s", "wall_s", "flagged"}
    assert clip["audio_s"] == pytest.approx(4.9, abs=0.2) and isinstance(clip["flagged"], bool)
    assert data["baseline"]["system"].startswith("openai-whisper (bare")
    assert set(data["ratio"]) >= {"wer", "cer", "rtf", "load_s", "peak_mb"}


def test_bench_mt_needs_a_package_then_scores_it(home, tmp_path):
    refs = tmp_path / "mt.tsv"
    refs.write_text(
        "src\tref_en\nМенің ағам қалада тұрады.\tMy brother lives in the city.\n"
        "Оны түнде алып кетті.\tThey took him at night.\n",
        encoding="utf-8",
    )
    missing = bench("mt", refs, "--language", "kk")
    assert missing.exit_code != 0 and "No kk->en translation package" in missing.output

    from pipeline import translate

    translate.install_package(
        home,
        tiny_argos_package(
            tmp_path,
            "kk",
            "en",
            languages=["kk", "ru"],
            target_prefix="eng_Latn",
            source_tokens=["kaz_Cyrl", "rus_Cyrl"],
        ),
    )
    out = tmp_path / "mt.json"
    result = bench("mt", refs, "--language", "kk", "--json", out)
    assert result.exit_code == 0, result.output
    assert "chrF" in result.output and "BLEU" in result.output
    data = json.loads(out.read_text())
    assert 0 <= data["chrf"] <= 100 and 0 <= data["bleu"] <= 100 and len(data["sentences"]) == 2


@pytest.mark.parametrize(
    "command, package",
    [("asr", "num2words"), ("mt", "sacrebleu"), ("speakers", "pyannote.metrics")],
)
def test_a_bench_without_the_bench_extra_says_what_to_install(
    home, tmp_path, monkeypatch, command, package
):
    refs = tmp_path / "refs.tsv"
    refs.write_text("file\tsrc\tref_en\tstart\tend\tspeaker\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, package, None)  # as if not installed: importing it fails
    result = bench(command, refs, "--language", "kk")
    assert result.exit_code == 1
    assert package in result.output and "pip install 'testimony-pipeline[bench]'" in result.output
