"""The review page's interface catalogues: every string on the page translated, placeholders kept, shipped."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from pipeline.review import i18n

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def page_strings() -> set[str]:
    """The strings marked on the page, found the way `pybabel extract` (locales/babel.cfg) finds them."""
    method_map = [
        ("static/**.js", "javascript"),
        ("templates/**.html", "jinja2"),
        ("**.py", "python"),
    ]
    found = extract_from_dir(
        ROOT / "pipeline" / "review",
        method_map,
        keywords={"t": None, "_": None, "N_": None, "gettext": None},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


@pytest.mark.parametrize("locale", ["ru", "kk", "ky"])
def test_every_page_string_is_translated_with_its_placeholders(locale):
    strings = page_strings()
    assert {"Log in", "Re-translate", "Withhold segment", "Reviewing as {name}"} <= strings
    catalogue = i18n.messages(locale)
    missing = sorted(strings - set(catalogue))
    assert not missing, f"{locale}: not translated: {missing}"
    for source, translated in catalogue.items():
        assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(translated)), (
            locale,
            source,
        )
    assert i18n.translations(locale).gettext("Log in") == catalogue["Log in"] != "Log in"


def test_the_language_comes_from_the_choice_then_the_browser():
    assert i18n.choose("ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert i18n.choose("de-DE,ky;q=0.5,ru;q=0.3") == "ky"
    assert i18n.choose("en-GB,kk;q=0.9") == "en"
    assert i18n.choose("fr, de") == "en"
    assert i18n.choose("ru", "kk") == "kk"  # a remembered choice wins over the browser
    assert i18n.choose("ru", None, "xx", "ky") == "ky"  # unsupported choices are skipped
    assert i18n.names()["kk"] == "Қазақ тілі"


def test_the_catalogues_and_templates_are_in_the_package(tmp_path):
    """A fresh install must carry the .po files and templates (package-data in pyproject.toml)."""
    source = tmp_path / "source"  # a copy: the build leaves its build/ folder beside the sources
    shutil.copytree(
        ROOT / "pipeline", source / "pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for locale in ("ru", "kk", "ky"):
        assert f"pipeline/review/locales/{locale}/LC_MESSAGES/review.po" in names
    assert {
        "pipeline/review/templates/index.html",
        "pipeline/review/templates/login.html",
        "pipeline/review/static/main.js",
    } <= names
    # the subpackages, and the fonts that PDFs and burned-in subtitles use, with their licence
    assert {
        "pipeline/search/__init__.py",
        "pipeline/cluster/__init__.py",
        "pipeline/export/fonts/DejaVuSans.ttf",
        "pipeline/export/fonts/DejaVuSans-Bold.ttf",
        "pipeline/export/fonts/LICENSE",
    } <= names
