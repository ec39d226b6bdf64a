"""The Hindi catalogue: every marked string translated, placeholders kept, and compiled."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "webapp" / "translations"
PO = TRANSLATIONS / "hi" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# As in scripts/i18n.sh: Babel's defaults (_, gettext, ngettext, ...) plus lazy_gettext, imported as _l.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
# A %-directive, named or not, or a lone % (which breaks Jinja's newstyle gettext formatting).
DIRECTIVE = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|%")
HINT = "run scripts/i18n.sh extract, translate the new entries in the .po, then scripts/i18n.sh compile"

Key = tuple[str, str | None]
Msgid = str | tuple[str, ...]


def extracted() -> dict[Key, Msgid]:
    """Every message marked in the web app's source, as babel.cfg and scripts/i18n.sh extract them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename=str(ROOT / "babel.cfg"))
    messages: dict[Key, Msgid] = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        singular = message[0] if isinstance(message, tuple) else message
        messages[(singular, context)] = message
    return messages


def catalogue() -> Catalog:
    """The Hindi .po file."""
    with open(PO, "rb") as f:
        return read_po(f)


def forms(string: Msgid) -> tuple[str, ...]:
    """A msgid's or msgstr's texts: one, or one per plural form (read_po gives tuples, read_mo lists)."""
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


def directives(text: str) -> list[str]:
    """The %-directives in text, sorted."""
    return sorted(DIRECTIVE.findall(text))


def compiled(catalog: Catalog) -> dict[Key, Msgid]:
    """What a .mo holds of catalog: the translated, non-fuzzy messages, header left out."""
    return {
        (str(forms(m.id)[0]), m.context): forms(m.string)
        for m in catalog
        if m.id and m.string and not m.fuzzy
    }


def test_it_extracts_the_web_apps_messages() -> None:
    """Guard the guard: an empty extraction would make the completeness test pass vacuously."""
    keys = extracted()
    assert ("Log in", None) in keys  # a template
    assert ("Wrong username or password.", None) in keys  # gettext as _ in a view
    assert ("District Magistrate", None) in keys  # lazy_gettext as _l


def test_it_translates_every_marked_message() -> None:
    """Every msgid in the source has a non-empty, non-fuzzy Hindi translation."""
    catalog = catalogue()
    assert not catalog.fuzzy, f"{PO.name}'s header is marked fuzzy, so pybabel compile skips it"
    missing = []
    for singular, context in sorted(extracted(), key=lambda key: key[0]):
        entry = catalog.get(singular, context)
        if entry is None or entry.fuzzy or not entry.string or not all(forms(entry.string)):
            missing.append(singular if context is None else f"{context}: {singular}")
    assert not missing, f"{len(missing)} untranslated in {PO.relative_to(ROOT)} ({HINT}):\n" + "\n".join(
        missing
    )


def test_it_keeps_every_placeholder() -> None:
    """Each translation has exactly its msgid's %(name)s placeholders (and no stray %)."""
    wrong = []
    for entry in catalogue():
        if not entry.id or not entry.string:
            continue
        ids = forms(entry.id)
        for index, text in enumerate(forms(entry.string)):
            if not text:
                continue  # untranslated: test_it_translates_every_marked_message reports it
            # Plural forms: the first answers the singular msgid, the others the plural one.
            expected = directives(ids[min(index, len(ids) - 1)])
            if directives(text) != expected:
                wrong.append(f"{ids[0]!r} -> {text!r}: {directives(text)} instead of {expected}")
    assert not wrong, "placeholders differ from the msgid's:\n" + "\n".join(wrong)


def test_it_ships_a_compiled_catalogue_up_to_date_with_the_po() -> None:
    """The committed messages.mo holds exactly the .po's translations."""
    assert MO.exists(), f"{MO.relative_to(ROOT)} is missing; run scripts/i18n.sh compile"
    with open(MO, "rb") as f:
        in_mo = compiled(read_mo(f))
    in_po = compiled(catalogue())
    stale = sorted(k[0] for k in in_po.keys() | in_mo.keys() if in_po.get(k) != in_mo.get(k))
    assert not stale, f"{MO.name} is stale (run scripts/i18n.sh compile); differing:\n" + "\n".join(stale)


def test_it_serves_hindi_from_flask_babels_default_directory() -> None:
    """webapp/translations is where Flask-Babel looks, and the .mo there answers in Hindi."""
    translations = Translations.load(str(TRANSLATIONS), ["hi"])
    assert type(translations) is not NullTranslations, f"no hi catalogue under {TRANSLATIONS}"
    assert translations.gettext("Log in") == "लॉग इन करें"
    assert (
        translations.gettext("Case %(number)s opened. Read this number to the caller.")
        % {"number": "DEMO-2026-000123"}
        == "प्रकरण DEMO-2026-000123 दर्ज हो गया। यह संख्या शिकायतकर्ता को पढ़कर सुनाएँ।"
    )
