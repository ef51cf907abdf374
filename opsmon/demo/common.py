"""What every part of the demo generator shares: the column lists, tiers and small numeric helpers."""

from __future__ import annotations

import numpy as np

from opsmon.ingest.fields import MONTHLY, MONTHLY_V2, PROGRESS, REGISTRY

DEMO_SUFFIX = "（演示）"
MONTHLY_COLUMNS = [f.code for f in MONTHLY]
PROGRESS_COLUMNS = [f.code for f in PROGRESS]
REGISTRY_COLUMNS = [f.code for f in REGISTRY]
MONEY_COLUMNS = [f.code for f in MONTHLY if f.type == "money"]
COUNT_COLUMNS = [f.code for f in MONTHLY if f.type == "count"]
OPTIONAL_MONEY = [f.code for f in MONTHLY if f.type == "money" and not f.required]

DUE_DAY = 10  # reports are due on the 10th of the month after the period
TIER3_LEVELS = ("三级甲等", "三级乙等", "三级")
TIER2_LEVELS = ("二级甲等", "二级乙等", "二级")
# The v1 monthly columns: what a hospital still on the v1 template sends.
MONTHLY_V1_COLUMNS = [c for c in MONTHLY_COLUMNS if c not in MONTHLY_V2]
V2_COLUMNS = list(MONTHLY_V2)
# The v1 optional cost columns a hospital without cost accounting leaves empty.
COST_COLUMNS = ["drug_expense", "consumables_expense", "depreciation_expense"]


def tier_of(level: str) -> str:
    """三级 / 二级 / 一级 for a registry level (未定级 counts with 一级)."""
    if level.startswith("三级"):
        return "三级"
    if level.startswith("二级"):
        return "二级"
    return "一级"


def by_tier(tier: np.ndarray, values: dict[str, float]) -> np.ndarray:
    return np.select([tier == "三级", tier == "二级"], [values["三级"], values["二级"]], values["一级"])


def ar1(rng: np.random.Generator, shape: tuple[int, int], sd: float, rho: float) -> np.ndarray:
    """Stationary AR(1) noise along axis 1 with marginal standard deviation *sd*."""
    out = np.empty(shape)
    eps = rng.normal(0, sd * np.sqrt(1 - rho**2), shape)
    out[:, 0] = rng.normal(0, sd, shape[0])
    for t in range(1, shape[1]):
        out[:, t] = rho * out[:, t - 1] + eps[:, t]
    return out


def walk(rng: np.random.Generator, shape: tuple[int, int], sd: float) -> np.ndarray:
    """A random walk starting at 0 (smooth drift of a stock)."""
    steps = rng.normal(0, sd, shape)
    steps[:, 0] = 0
    return steps.cumsum(axis=1)


def cents(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=float) * 100).astype(np.int64)



def handful(n: int) -> int:
    """3–5 for a 300-hospital province, fewer for small test provinces."""
    return int(np.clip(round(n / 60), 1, 5)) if n < 180 else 5

