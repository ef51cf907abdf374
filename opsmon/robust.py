"""Robust z-scores, shared by ingest's plausibility warnings and the indicators' anomaly flags.

z = (x − median) / robust_scale(MAD): one definition of the scale, so the two never drift apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAD_PER_SD = 0.6745  # a normal's MAD is 0.6745 σ (Φ⁻¹(3/4), rounded): MAD / 0.6745 estimates σ
SD_PER_MEAN_AD = 1.2533  # √(π/2): a normal's mean absolute deviation is σ / 1.2533


def robust_scale(mad: float | pd.Series, *, min_mad: float = 0.0,
                 mean_ad: float | None = None) -> float | pd.Series:
    """σ estimated from a median absolute deviation, MAD / 0.6745: what a robust z-score divides by.

    z = (x − median) / robust_scale(MAD), i.e. 0.6745 × (x − median) / MAD. *mad* is one MAD
    or a Series of them (one a group; NaN stays NaN). *min_mad* floors the MAD first, for
    data whose spread can be 0 where small changes must not stand out. *mean_ad* (one MAD
    only): when the MAD is 0 (more than half the values equal), 1.2533 × this mean absolute
    deviation instead, and NaN when that is 0 too (all values equal: nothing stands out).
    """
    if min_mad:
        mad = np.maximum(mad, min_mad)
    if mean_ad is None or mad > 0:
        return mad / MAD_PER_SD
    return SD_PER_MEAN_AD * mean_ad if mean_ad > 0 else float("nan")
