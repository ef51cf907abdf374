"""opsmon.ingest.uscc: the GB 32100 check for one code and for a column (the column's numpy path
is compared with the one-code check in test_fast_path.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from opsmon.ingest import uscc

GOOD = uscc.make("220102", "41234567")


def test_a_made_code_is_valid():
    assert GOOD == "12220102412345670G"
    assert uscc.is_valid(GOOD) and uscc.well_formed(GOOD)
    assert uscc.check_char(GOOD[:17]) == GOOD[17]


@pytest.mark.parametrize("code", [
    GOOD[:17] + "1",  # wrong check character: well formed all the same
    GOOD[:17] + "I",  # a character outside the charset
])
def test_the_check_character_counts(code):
    assert not uscc.is_valid(code)


@pytest.mark.parametrize("code", [
    GOOD + "\n",  # '$' would match before a final newline
    GOOD[:2] + "\u0661" + GOOD[3:],  # an Arabic-Indic digit: '\d' matches it, the check has no value for it
    GOOD[:2] + "A" + GOOD[3:],  # a letter in the division code
    GOOD.lower(), GOOD[:17], " " + GOOD, None, 12220102412345670,
])
def test_anything_else_is_neither_valid_nor_well_formed(code):
    assert not uscc.is_valid(code) and not uscc.well_formed(code)
    assert not uscc.valid_mask(pd.Series([code], dtype=object)).iloc[0]


def test_why_a_code_is_invalid():
    codes = pd.Series([GOOD[:17], GOOD[:17] + "é", GOOD[:2] + "A" + GOOD[3:], GOOD[:17] + "1"], index=[7, 8, 9, 10])
    assert uscc.why_invalid(codes).to_dict() == {7: "length", 8: "chars", 9: "format", 10: "check"}
