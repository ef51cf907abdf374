"""统一社会信用代码 (Unified Social Credit Code, GB 32100-2015): the one check, for one code and
for a column of them.

An 18-character code: registration authority (1), organisation type (1), the
6-digit administrative division, the 9-character organisation code (GB 11714,
with its own check character) and one check character over the first 17.
Public hospitals are 事业单位 registered by 机构编制 (``12…``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from opsmon.ingest.cells import ascii_codes

# The 31 characters GB 32100 allows: digits and capitals without I, O, Z, S, V.
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# The shape of a code (check character not verified). [0-9], not \d: \d also matches the
# digits of other scripts (١), which have no value in the check.
PATTERN = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")

# The same in arrays, for a column of codes: the value of each ASCII code (-1: not in the
# charset) and the weights.
_CODE_VALUE = np.full(256, -1, dtype=np.int64)
_CODE_VALUE[[ord(c) for c in CHARSET]] = np.arange(len(CHARSET))
_WEIGHTS = np.array(WEIGHTS, dtype=np.int64)[:, None]

# GB 11714 organisation code: 8 body characters, weights, check = 11 - sum mod 11.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _check_value(total: Any) -> Any:
    """The check character's value for the weighted sum of the first 17 values (an int or an array)."""
    return (31 - total % 31) % 31


def check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a code."""
    return CHARSET[_check_value(sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True)))]


def well_formed(code: Any) -> bool:
    """True when *code* has a USCC's shape (18 characters of the charset, the division in digits),
    whatever its check character."""
    return isinstance(code, str) and PATTERN.fullmatch(code) is not None


def is_valid(code: Any) -> bool:
    """True when *code* is a well-formed USCC whose check character is right."""
    return well_formed(code) and check_char(code[:17]) == code[17]


def valid_mask(codes: pd.Series, *, fast: bool = True) -> pd.Series:
    """:func:`is_valid` over a Series (NA → False): a bool Series on *codes*' index.

    The common case — 18 ASCII characters — is checked in numpy over a matrix of character
    codes (an upload or a registry may hold 12,000 codes: :func:`is_valid` on each costs
    ~10× more); only other codes (non-ASCII, NUL, NA) go through :func:`is_valid`.
    With *fast* off every code does: the reference the fast path is tested against.
    """
    t = codes.astype("string").to_numpy(dtype=object)
    if not fast:
        return pd.Series([is_valid(c) for c in t], index=codes.index, dtype=bool)
    usable, chars, length = ascii_codes(t)
    # A workbook's text may hold a NUL, which the matrix would drop at the end: such codes too
    # (their length differs from the matrix's) go through is_valid. One check a row.
    usable &= np.array([len(c) if isinstance(c, str) else -1 for c in t], dtype=np.int64) == length
    valid = np.zeros(len(t), dtype=bool)
    if len(chars) >= 18:
        value = _CODE_VALUE[chars[:18]]
        digits = ((chars[2:8] - 48) <= 9).all(axis=0)  # characters 3–8: the division code
        shaped = (length == 18) & digits & (value >= 0).all(axis=0)
        valid = shaped & (value[17] == _check_value((value[:17] * _WEIGHTS).sum(axis=0)))
    rest = ~usable
    if rest.any():
        valid[rest] = [is_valid(c) for c in t[rest]]
    return pd.Series(valid, index=codes.index)


def why_invalid(codes: pd.Series) -> pd.Series:
    """Why each of *codes* (invalid ones, as text) is not a USCC, the most basic reason first:
    'length' (not 18 characters), 'chars' (a character outside the charset), 'format' (letters
    in the division code) or 'check' (the check character is wrong)."""
    codes = codes.astype("string")
    shaped = codes.str.fullmatch(PATTERN.pattern).fillna(False).astype(bool)
    chars_ok = codes.str.fullmatch(f"[{CHARSET}]*").fillna(False).astype(bool)
    reasons = pd.Series("check", index=codes.index)
    reasons[~shaped] = "format"
    reasons[~chars_ok] = "chars"
    reasons[(codes.str.len() != 18).fillna(True).astype(bool)] = "length"
    return reasons


def org_code(body8: str) -> str:
    """A GB 11714 organisation code (9 characters) from its 8-character body."""
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(c9, str(c9))


def make(adcode: str, body8: str, prefix: str = "12") -> str:
    """Build a valid USCC for a public institution from its division code and org-code body."""
    first17 = prefix + adcode + org_code(body8)
    return first17 + check_char(first17)
