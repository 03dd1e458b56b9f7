"""Segment language labels and the Kazakh/Kyrgyz file check, on real sentences."""

import csv
import json
import shutil
import subprocess

import pytest

from pipeline import language

from conftest import EVALDATA


@pytest.mark.parametrize(
    "text, expected",
    [
        ("мен осы брекетті тағып шықтым да", "kk"),  # Kazakh letters
        ("короче, в общем, я не знаю что сказать", "ru"),  # Russian: no special letters
        ("мен бүгүн жумушка барбайм, көчөдө жамгыр жаап жатат", "ky"),  # ң ө ү without ә ғ қ ұ і
        ("біз өзімізге вложение жасаймыз и в общем конечно", "kk"),  # code-switched, mostly Kazakh
        (
            "Я сказал, что Айгүл приедет завтра утром к нам домой",
            "ru",
        ),  # one Kazakh name in Russian
        ("123 ... !!", None),
        ("hello world", None),
    ],
)
def test_segments_are_labelled_by_their_text(text, expected):
    assert language.label(text) == expected


@pytest.mark.evaldata(
    reason="NTREX-128 sentences are CC BY-SA, kept beside the repository for benchmarks"
)
def test_labels_on_the_mt_sentences_of_each_language():
    """NTREX news sentences: the share labelled as their own language."""
    for code, least in (("kk", 0.97), ("ky", 0.80), ("ru", 0.97)):
        with open(EVALDATA / "mt" / f"ntrex128_{code}.tsv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        share = sum(language.label(r["src"]) == code for r in rows) / len(rows)
        assert share >= least, (code, share)


def test_a_kazakh_file_that_reads_as_kyrgyz_gets_a_warning():
    assert "reads as Kyrgyz" in language.mismatch_warning(
        "kk", ["ky", "ky", "kk", "ru"], [20, 20, 8, 30]
    )
    assert language.mismatch_warning("kk", ["kk", "ky", "ru", "ru"], [50, 20, 30, 30]) is None
    assert "reads as Kazakh" in language.mismatch_warning("ky", ["kk", None], [40, 1])
    assert language.mismatch_warning("ky", ["kk"], [7]) is None  # one short clip proves nothing
    assert (
        language.mismatch_warning("ru", ["kk", "kk"], [40, 40]) is None
    )  # Kazakh passages in Russian are normal


def test_a_detected_file_that_may_be_kyrgyz_says_so_and_how_to_set_it():
    unsure = language.maybe_kyrgyz_warning({"kk": 0.011, "ru": 0.004}, ["kk"], [5])
    assert "may be Kyrgyz" in unsure and "kk 0.011, ru 0.004" in unsure
    for way in (
        "retranscribe INTERVIEW --language ky",
        "--language ky",
        'language = "ky" in a sidecar',
        "[[watch]] folder",
    ):
        assert way in unsure
    reads = language.maybe_kyrgyz_warning({"kk": 0.6, "ru": 0.01}, ["ky", "ky", "kk"], [20, 20, 8])
    assert "may be Kyrgyz" in reads and "83% of its Kazakh/Kyrgyz speech reads as Kyrgyz" in reads
    assert language.maybe_kyrgyz_warning({"kk": 0.18, "ru": 0.01}, ["kk", "ky"], [40, 10]) is None
    assert (
        language.maybe_kyrgyz_warning({"kk": 0.01, "ru": 0.9}, ["ru"], [40]) is None
    )  # sure it is Russian


KYRGYZ = (
    "Менин агам эки жыл мурун камакка алынган. Биз анын кайда экенин билбейбиз. "
    "Апам күн сайын ыйлайт, биз аны издеп жатабыз. Ал Үрүмчүдө иштечү, андан кийин кабар жок."
)


@pytest.mark.slow
@pytest.mark.skipif(
    not shutil.which("espeak-ng"),
    reason="needs espeak-ng for Kyrgyz speech: apt-get install espeak-ng",
)
def test_synthesised_kyrgyz_without_a_language_is_warned_about(tmp_path, monkeypatch, cli):
    """Real Whisper base on 14 s of espeak-ng's Kyrgyz voice: detection gives kk, unsure of it."""
    speech = tmp_path / "KG-7_brother.wav"
    subprocess.run(["espeak-ng", "-v", "ky", "-w", str(speech), KYRGYZ], check=True)
    monkeypatch.setenv("TESTIMONY_HOME", str(tmp_path / "home"))
    result = cli("process", speech)
    assert result.exit_code == 0, result.output
    [out] = (tmp_path / "home" / "outbox" / "KG-7").iterdir()
    data = json.loads((out / "transcript.json").read_text())
    assert (
        data["language"] == "kk"
        and max(data["detected_languages"].values()) < language.UNSURE_BELOW
    )
    [warning] = data["warnings"]
    assert "may be Kyrgyz" in warning and "--language ky" in warning
    status = cli("status").output
    assert "may be Kyrgyz" in status and "--language ky" in status
