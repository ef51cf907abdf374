"""统一社会信用代码 (Unified Social Credit Code, GB 32100-2015).

An 18-character code: registration authority (1), organisation type (1), the
6-digit administrative division, the 9-character organisation code (GB 11714,
with its own check character) and one check character over the first 17.
Public hospitals are 事业单位 registered by 机构编制 (``12…``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# The 31 characters GB 32100 allows: digits and capitals without I, O, Z, S, V.
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

# GB 11714 organisation code: 8 body characters, weights, check = 11 - sum mod 11.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a code."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """True when *code* is a well-formed USCC whose check character is right."""
    if not isinstance(code, str) or not PATTERN.match(code):
        return False
    return check_char(code[:17]) == code[17]


def valid_mask(codes: pd.Series) -> pd.Series:
    """Vectorised :func:`is_valid` over a Series of strings (NaN → False)."""
    s = codes.astype("string").fillna("")
    well_formed = s.str.fullmatch(PATTERN.pattern).fillna(False).astype(bool)
    result = pd.Series(False, index=codes.index)
    if well_formed.any():
        chars = s[well_formed].str.split("", expand=False).str[1:19]
        arr = np.array(chars.tolist())
        values = np.vectorize(_VALUE.__getitem__)(arr[:, :17])
        total = (values * np.array(WEIGHTS)).sum(axis=1)
        expected = np.array(list(CHARSET))[(31 - total % 31) % 31]
        result[well_formed] = expected == arr[:, 17]
    return result


def org_code(body8: str) -> str:
    """A GB 11714 organisation code (9 characters) from its 8-character body."""
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(c9, str(c9))


def make(adcode: str, body8: str, prefix: str = "12") -> str:
    """Build a valid USCC for a public institution from its division code and org-code body."""
    first17 = prefix + adcode + org_code(body8)
    return first17 + check_char(first17)
