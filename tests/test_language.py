"""Segment language labels and the Kazakh/Kyrgyz file check, on real sentences."""

import csv

import pytest

from pipeline import language

from conftest import EVALDATA


@pytest.mark.parametrize("text, expected", [
    ("мен осы брекетті тағып шықтым да", "kk"),           # Kazakh letters
    ("короче, в общем, я не знаю что сказать", "ru"),      # Russian: no special letters
    ("мен бүгүн жумушка барбайм, көчөдө жамгыр жаап жатат", "ky"),  # ң ө ү without ә ғ қ ұ і
    ("біз өзімізге вложение жасаймыз и в общем конечно", "kk"),  # code-switched, mostly Kazakh
    ("Я сказал, что Айгүл приедет завтра утром к нам домой", "ru"),  # one Kazakh name in Russian
    ("123 ... !!", None),
    ("hello world", None),
])
def test_segments_are_labelled_by_their_text(text, expected):
    assert language.label(text) == expected


@pytest.mark.evaldata(reason="NTREX-128 sentences are CC BY-SA, kept beside the repository for benchmarks")
def test_labels_on_the_mt_sentences_of_each_language():
    """NTREX news sentences: the share labelled as their own language."""
    for code, least in (("kk", 0.97), ("ky", 0.80), ("ru", 0.97)):
        with open(EVALDATA / "mt" / f"ntrex128_{code}.tsv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        share = sum(language.label(r["src"]) == code for r in rows) / len(rows)
        assert share >= least, (code, share)


def test_a_kazakh_file_that_reads_as_kyrgyz_gets_a_warning():
    assert "reads as Kyrgyz" in language.mismatch_warning("kk", ["ky", "ky", "kk", "ru"], [20, 20, 8, 30])
    assert language.mismatch_warning("kk", ["kk", "ky", "ru", "ru"], [50, 20, 30, 30]) is None
    assert "reads as Kazakh" in language.mismatch_warning("ky", ["kk", None], [40, 1])
    assert language.mismatch_warning("ky", ["kk"], [7]) is None  # one short clip proves nothing
    assert language.mismatch_warning("ru", ["kk", "kk"], [40, 40]) is None  # Kazakh passages in Russian are normal
