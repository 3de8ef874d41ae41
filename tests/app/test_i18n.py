"""The Norwegian catalog is complete: every message in the code and templates has a translation.

Messages are extracted in memory with babel's own API and the project's babel.cfg, so a new
`_()` anywhere in service/ (Python, page or email template) fails here until it is translated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from service.kit import i18n

ROOT = Path(__file__).resolve().parents[2]
PO_FILE = ROOT / "service" / "locales" / "nb" / "LC_MESSAGES" / "messages.po"
# Every %-conversion, named or not, and the escaped percent sign.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def extracted() -> dict[str, list[str]]:
    """msgid -> files it occurs in, extracted as `pybabel extract -F babel.cfg` would."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, list[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        # A plural message is keyed by its singular form, as in the catalog.
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(filename)
    return found


@pytest.fixture(scope="module")
def messages() -> dict[str, list[str]]:
    """The extracted messages (extraction walks the tree once for this module)."""
    return extracted()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The Norwegian Bokmål catalog as committed."""
    with PO_FILE.open("rb") as handle:
        return read_po(handle, locale="nb")


def translated(catalog: Catalog) -> Iterator[tuple[str, str]]:
    """(msgid, msgstr) for every message of the catalog, plural forms included."""
    for message in catalog:
        if not message.id:
            continue
        ids = [str(text) for text in message.id] if isinstance(message.id, tuple) else [str(message.id)]
        strings = [str(text or "") for text in message.string] if isinstance(message.string, tuple) else [
            str(message.string or "")
        ]
        # A plural msgstr[n] is checked against the plural msgid (the last one).
        yield from ((ids[min(index, len(ids) - 1)], text) for index, text in enumerate(strings))


def test_extraction_covers_python_pages_and_email_templates(messages: dict[str, list[str]]) -> None:
    files = {name for names in messages.values() for name in names}
    assert any(name.endswith(".py") for name in files)
    assert any(name.endswith(".txt") and "email" in name for name in files)
    assert "service/templates/email/verify.txt" in messages["Confirm your email address for Koble"]
    assert "Pick at least one domain." in messages  # a Python string from the form's validation


def test_every_message_has_a_norwegian_translation(messages: dict[str, list[str]], catalog: Catalog) -> None:
    missing = sorted(
        f"{msgid!r} ({', '.join(sorted(set(messages[msgid])))})"
        for msgid in messages
        if msgid not in catalog or not _complete(catalog[msgid].string) or catalog[msgid].fuzzy
    )
    assert missing == [], (
        "Untranslated messages; run the commands in babel.cfg, translate into Norwegian Bokmål and "
        "remove every fuzzy flag:\n" + "\n".join(missing)
    )


def _complete(string: str | tuple[str, ...] | list[str] | None) -> bool:
    """Whether a msgstr (or every plural form of it) is filled in."""
    return all(string) if isinstance(string, tuple | list) else bool(string)


def test_catalog_has_no_fuzzy_entries(catalog: Catalog) -> None:
    assert not catalog.fuzzy
    assert [message.id for message in catalog if message.id and message.fuzzy] == []


def test_placeholders_match_between_english_and_norwegian(catalog: Catalog) -> None:
    mismatched = [
        (msgid, msgstr)
        for msgid, msgstr in translated(catalog)
        if msgstr and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr))
    ]
    assert mismatched == []


def test_no_stray_percent_signs(catalog: Catalog) -> None:
    # Templates format every message with %, so a lone % would break the page at run time.
    stray = [text for pair in translated(catalog) for text in pair if "%" in PLACEHOLDER.sub("", text)]
    assert stray == []


def test_pages_and_python_use_the_catalog() -> None:
    token = i18n.current_language.set("nb")
    try:
        assert i18n.gettext("Sign in") == "Logg inn"
        assert i18n.gettext("Hi %(name)s,") % {"name": "Åse"} == "Hei Åse,"
    finally:
        i18n.current_language.reset(token)
    token = i18n.current_language.set("en")
    try:
        assert i18n.gettext("Sign in") == "Sign in"
    finally:
        i18n.current_language.reset(token)
