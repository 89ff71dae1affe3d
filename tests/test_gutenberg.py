"""strip_gutenberg / clean_text on header and footer variants written for these tests."""

from __future__ import annotations

import pytest

from textkl.corpora import clean_text, strip_gutenberg

BODY = (
    "CHAPTER I.\n\n"
    "The keeper lit the lamp at dusk and wrote the weather in his notebook, as he\n"
    "had done every evening for eleven years.\n\n"
    "CHAPTER II.\n\n"
    "In the morning the supply boat did not come, and he began to ration the oil.\n"
)

NEW_HEADER = (
    "The Project Gutenberg eBook of The Keeper's Notebook\n\n"
    "This ebook is for the use of anyone anywhere at no cost.\n\n"
    "Title: The Keeper's Notebook\n\nAuthor: A. Tester\n\n"
    "Release date: January 1, 2001 [eBook #99999]\n\nLanguage: English\n\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK THE KEEPER'S NOTEBOOK ***\n\n\n"
)
NEW_FOOTER = (
    "\n\n*** END OF THE PROJECT GUTENBERG EBOOK THE KEEPER'S NOTEBOOK ***\n\n"
    "Updated editions will replace the previous one.\n\n"
    "START: FULL LICENSE\n\nTHE FULL PROJECT GUTENBERG LICENSE\n"
)
OLD_HEADER = (
    "The Project Gutenberg EBook of The Keeper's Notebook, by A. Tester\n\n"
    "This eBook is for the use of anyone anywhere at no cost and with\n"
    "almost no restrictions whatsoever.\n\n"
    "*** START OF THIS PROJECT GUTENBERG EBOOK THE KEEPER'S NOTEBOOK ***\n\n\n\n\n"
    "Produced by A. Volunteer and the Online Distributed\n"
    "Proofreading Team\n\n\n\n\n"
)
OLD_FOOTER = (
    "\n\n\n\nEnd of the Project Gutenberg EBook of The Keeper's Notebook, by A. Tester\n\n"
    "*** END OF THIS PROJECT GUTENBERG EBOOK THE KEEPER'S NOTEBOOK ***\n\n"
    "***** This file should be named 99999.txt or 99999.zip *****\n"
)
SMALL_PRINT_HEADER = (
    "Project Gutenberg's Etext of The Keeper's Notebook\n\n"
    "**Welcome To The World of Free Plain Vanilla Electronic Texts**\n\n"
    "*****These Etexts Were Prepared By Thousands of Volunteers!*****\n\n"
    "***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***\n"
    "Why is this \"Small Print!\" statement here? You know: lawyers.\n"
    "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n\n"
)
SMALL_PRINT_FOOTER = "\n\nEnd of Project Gutenberg's Etext of The Keeper's Notebook\n"
WRAPPED_HEADER = (
    "The Project Gutenberg eBook of A Very Long Title\n\n"
    "***START OF THE PROJECT GUTENBERG EBOOK A VERY LONG TITLE THAT RUNS OVER\n"
    "TWO LINES ***\n\n"
)
INDENTED_FOOTER = (  # 2023 layout: the marker is indented between whitespace-only lines
    "\n\n        \n            *** END OF THE PROJECT GUTENBERG EBOOK THE KEEPER'S NOTEBOOK ***"
    "\n        \n\n    \n\nUpdated editions will replace the previous one.\n"
)
ETEXT_FOOTER = "\n\n***END OF THE PROJECT GUTENBERG ETEXT A VERY LONG TITLE***\n\nlicence here\n"


@pytest.mark.parametrize(
    ("header", "footer"),
    [
        pytest.param(NEW_HEADER, NEW_FOOTER, id="new-style"),
        pytest.param(OLD_HEADER, OLD_FOOTER, id="old-style-with-credit-and-end-of-line"),
        pytest.param(SMALL_PRINT_HEADER, SMALL_PRINT_FOOTER, id="1990s-small-print"),
        pytest.param(WRAPPED_HEADER, ETEXT_FOOTER, id="wrapped-title-etext"),
        pytest.param(NEW_HEADER, INDENTED_FOOTER, id="2023-indented-footer"),
        pytest.param(NEW_HEADER, "", id="header-only"),
        pytest.param("", NEW_FOOTER, id="footer-only"),
    ],
)
def test_strip_gutenberg_variants(header: str, footer: str) -> None:
    assert strip_gutenberg(header + BODY + footer) == BODY


def test_crlf_file_is_cleaned_to_lf() -> None:
    raw = "\ufeff" + (OLD_HEADER + BODY + OLD_FOOTER).replace("\n", "\r\n")
    assert clean_text(raw) == BODY


def test_clean_text_normalises_to_nfc() -> None:
    decomposed = "Cafe\u0301 de la mer\n"  # e + combining acute accent
    assert clean_text(NEW_HEADER + decomposed + NEW_FOOTER) == "Caf\u00e9 de la mer\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(BODY, id="plain-book"),
        pytest.param("  indented first line\n\nand more\n\n\n", id="whitespace-kept"),
        pytest.param("", id="empty"),
        pytest.param("He read the Project Gutenberg edition of it.\n", id="mention-mid-line"),
        pytest.param("Produced by the crew, this log is theirs.\n", id="credit-without-header"),
    ],
)
def test_text_without_boilerplate_is_unchanged(text: str) -> None:
    assert strip_gutenberg(text) == text


def test_credit_paragraph_removed_only_after_header() -> None:
    out = strip_gutenberg(OLD_HEADER + BODY + OLD_FOOTER)
    assert "Produced by" not in out and "Proofreading Team" not in out
    assert out.startswith("CHAPTER I.")


def test_footer_search_starts_after_header() -> None:
    # a body line starting like a footer marker must not be cut before the real header
    text = "End of Project Gutenberg preface\n" + NEW_HEADER + BODY + NEW_FOOTER
    assert strip_gutenberg(text) == BODY


def test_only_boilerplate_gives_empty_text() -> None:
    assert strip_gutenberg(NEW_HEADER + NEW_FOOTER) == ""
