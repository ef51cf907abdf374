"""The v2 demo loads through the real ingest path: v2 and v1 monthly files, the registry's
budget_authority and the progress report's campaign column all arrive in the database."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from opsmon import config
from opsmon.demo.load import load_demo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.conftest import DEMO_TODAY  # noqa: E402

V2 = ["medical_service_revenue", "medical_activity_revenue", "medical_activity_expense", "discharged_patient_revenue",
      "herbal_pieces_revenue", "insurance_receivable", "supplier_payable", "short_term_loans", "long_term_payables",
      "inventory"]


def test_the_v2_demo_loads_through_ingest(engine, tmp_path: Path) -> None:
    settings = config.Settings(database_url=None, data_dir=tmp_path, province="220000", secret_key=None,
                               production=False)
    outcome = load_demo(engine, settings, seed=3, n_hospitals=60, months=4, today=DEMO_TODAY)
    assert outcome.rejected == 0 and outcome.hospitals == 60
    files = sorted((tmp_path / "demo" / "seed3" / "monthly").rglob("*"))
    assert any(f.stem.endswith("_v1") for f in files) and any(f.is_file() and not f.stem.endswith("_v1")
                                                               for f in files)
    with engine.connect() as conn:
        monthly = pd.read_sql_query(sa.text(
            f"SELECT hospital_code, {', '.join(V2)} FROM monthly_values WHERE is_current"), conn)
        hospitals = pd.read_sql_query(sa.text(
            "SELECT hospital_code, affiliation, budget_authority, is_budget_managed FROM hospitals"), conn)
        progress = pd.read_sql_query(sa.text(
            "SELECT period, campaign_optimized_processes, optimized_processes FROM progress_values WHERE is_current"),
            conn)
    # Each hospital is a v2 reporter (every v2 column in every row) or a v1 one (none of them).
    present = monthly[V2].notna()
    per_hospital = present.all(axis=1).groupby(monthly["hospital_code"]).agg(["all", "any"])
    assert (present.all(axis=1) | ~present.any(axis=1)).all()
    assert (per_hospital["all"] == per_hospital["any"]).all()
    v1 = (~per_hospital["all"]).sum()
    assert 0 < v1 <= 0.25 * 60
    # One 国家 budget-managed hospital in a small province (the university hospital), 1 省 at most.
    authority = hospitals["budget_authority"].value_counts()
    assert authority["国家"] == 1 and authority.get("省", 0) <= 1
    assert (hospitals["is_budget_managed"] == (hospitals["budget_authority"] != "无")).all()
    assert (hospitals.loc[hospitals["budget_authority"] == "国家", "affiliation"] == "委属委管").all()
    # The campaign column: stored from 2024 on for v2 hospitals, never above the cumulative count.
    campaign = progress.dropna(subset=["campaign_optimized_processes"])
    assert len(campaign) > 0
    assert (campaign["campaign_optimized_processes"] <= campaign["optimized_processes"]).all()
