"""storable_name: every display name can be stored on SQLite and PostgreSQL and shown anywhere."""

from __future__ import annotations

import pytest

from content.people import NAME_LENGTH, storable_name


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Anna de Vries", "Anna de Vries"),
        ("Eve \ud800 Lone", "Eve \ufffd Lone"),  # a lone surrogate (legal in JSON) no driver encodes
        ("\ud83d\ude00 split pair", "😀 split pair"),  # a surrogate pair that arrived split joins up
        ("Nul\x00l", "Nul l"),  # NUL: PostgreSQL refuses it in text
        ("Bell\x07\x1b[31mRed\x7f\x85", "Bell [31mRed"),  # C0, DEL and C1 controls
        ("\u202egnp.exe\u202c Mallory\u2066x\u2069", "gnp.exe Mallory x"),  # text-direction overrides
        ("  spaced\t\n out  ", "spaced out"),
        ("Zoë 👩\u200d💻 🇳🇱", "Zoë 👩\u200d💻 🇳🇱"),  # joiners and flags stay
        ("", ""),
    ],
)
def test_names_are_made_storable(given: str, stored: str) -> None:
    assert storable_name(given) == stored
    stored.encode("utf-8")  # strict: what every driver does


def test_long_names_are_cut_to_the_column_with_an_ellipsis() -> None:
    assert NAME_LENGTH == 200  # identities.display_name and employees.name
    cut = storable_name("x" * 300)
    assert len(cut) == NAME_LENGTH and cut.endswith("x…")
    assert storable_name("y" * NAME_LENGTH) == "y" * NAME_LENGTH
    assert storable_name("abc def", limit=5) == "abc…"  # no space left before the ellipsis
