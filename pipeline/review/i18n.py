"""The review page's interface language: Babel message catalogues, one .po file per language.

Only the interface is translated; what reviewers type is never touched. The catalogues are read
from the .po files and compiled in memory on first use (Babel's own reader and writer), so a
fresh install needs no build step and a .po edit cannot go stale against a compiled copy.
To add strings: ``pybabel extract -F pipeline/review/locales/babel.cfg -k t -o /tmp/review.pot
pipeline/review`` then ``pybabel update -i /tmp/review.pot -d pipeline/review/locales -D review``.
"""

from __future__ import annotations

from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "review"
LOCALES = ("ru", "kk", "ky", "en")  # en is the source language: no catalogue needed
DEFAULT = "en"


def N_(text: str) -> str:
    """Marks a string for the catalogue that is translated where it is shown."""
    return text


ROLE_NAMES = (N_("reviewer"), N_("press"), N_("admin"))  # shown in the page header


@lru_cache(maxsize=None)
def _catalog(locale: str):
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


@lru_cache(maxsize=None)
def translations(locale: str) -> Translations:
    """gettext translations for a locale (the English source strings for ``en``)."""
    catalog = _catalog(locale)
    if catalog is None:
        return Translations()
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@lru_cache(maxsize=None)
def messages(locale: str) -> dict[str, str]:
    """Every translated message of a locale, for the page's script (it looks strings up by their English)."""
    catalog = _catalog(locale)
    if catalog is None:
        return {}
    return {
        m.id: m.string
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def names() -> dict[str, str]:
    """Each language's name in itself, for the switcher."""
    return {code: Locale.parse(code).get_display_name(code).capitalize() for code in LOCALES}


def supported(code: str | None) -> str | None:
    code = (code or "").strip().replace("-", "_").split("_")[0].lower()
    return code if code in LOCALES else None


def choose(accept_language: str | None, *preferred: str | None) -> str:
    """The first chosen language that is supported, else the best match for Accept-Language, else English."""
    for code in preferred:
        if supported(code):
            return supported(code)
    wanted = []
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        if tag and q > 0:
            wanted.append((-q, n, tag))
    ordered = [tag for _, _, tag in sorted(wanted) if tag != "*"]
    return (
        negotiate_locale([t.replace("_", "-") for t in ordered], list(LOCALES), sep="-") or DEFAULT
    )
