"""The documentation: every setting documented and read as documented, generated pages current,
the site built with no broken link, and a README short enough to read."""

import dataclasses
import importlib.util
import re
import subprocess
import sys

import pytest

from pipeline import config

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

SOURCES = generate.sources()
ENTRIES = [(cls, doc, load) for cls, docs, load in SOURCES for doc in docs]


@pytest.mark.parametrize(
    "cls, docs",
    [(cls, docs) for cls, docs, _ in SOURCES],
    ids=[cls.__name__ for cls, _, _ in SOURCES],
)
def test_every_setting_is_documented(cls, docs):
    # home comes from TESTIMONY_HOME, which the page describes with the other variables.
    fields = {f.name for f in dataclasses.fields(cls)} - {"home"}
    documented = [doc.field for doc in docs]
    missing = sorted(fields - set(documented))
    assert not missing, (
        f"{cls.__name__} fields with no Documented entry: {missing}; add one "
        f"beside the dataclass, then run `python docs/generate.py`"
    )
    assert not set(documented) - fields, "a Documented entry names a field that does not exist"
    assert len(documented) == len(set(documented)), "a field is documented twice"


@pytest.mark.parametrize(
    "cls, doc, load", ENTRIES, ids=[f"{d.table}.{d.key}" for _, d, _ in ENTRIES]
)
def test_each_documented_key_is_read_as_documented(tmp_path, monkeypatch, cls, doc, load):
    """Setting the key as the page's example does changes the field the page says it sets."""
    monkeypatch.delenv("TESTIMONY_BROKER", raising=False)
    default = getattr(load(tmp_path), doc.field)
    (tmp_path / config.SETTINGS_FILE).write_text(doc.example + "\n", encoding="utf-8")
    changed = getattr(load(tmp_path), doc.field)
    assert changed != default, f"{doc.example!r} left {doc.field} at its default"
    if doc.table.startswith("["):
        assert f"[{doc.table}]" in doc.example
    else:
        assert doc.example.startswith(f"[{doc.table}]\n")


def test_generated_pages_are_current():
    """docs/settings.md's table and docs/cli.md are what `python docs/generate.py` writes now."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_the_site_builds_with_no_broken_link(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "ru" / "guide" / "staff" / "index.html").exists()
    # The site is read on offline machines: no page may load a script or a style from elsewhere.
    for page in (tmp_path / "site").rglob("*.html"):
        remote = re.findall(r'<(?:script|link)[^>]*(?:src|href)="https?://[^"]*"', page.read_text())
        assert not remote, f"{page.name} loads {remote}"


def test_the_readme_is_short_and_its_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"
