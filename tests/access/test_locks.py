"""Period locks (opsmon.access.locks): lock, unlock, list, audit rows, and uploads to a locked month refused."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from access_helpers import audit_rows
from test_store import B, ingest, month, monthly

from opsmon.access import locks


def test_lock_list_and_unlock(registered):
    assert locks.list_locks(registered).empty
    assert locks.lock(registered, "2025-03", by="王科长", reason="季度审核完成")
    assert locks.lock(registered, "2025-02", by="王科长")

    listed = locks.list_locks(registered).fillna({"reason": "-"})
    assert listed[["period", "locked_by", "reason"]].values.tolist() == [
        ["2025-03", "王科长", "季度审核完成"],
        ["2025-02", "王科长", "-"],
    ]
    assert listed["locked_at"].notna().all()

    assert locks.unlock(registered, "2025-03", by="admin.zhang")
    assert locks.list_locks(registered)["period"].tolist() == ["2025-02"]


def test_a_second_lock_returns_false_and_keeps_the_first(registered):
    assert locks.lock(registered, "2025-03", by="王科长", reason="first")
    assert not locks.lock(registered, "2025-03", by="someone else", reason="second")
    assert locks.list_locks(registered)[["locked_by", "reason"]].values.tolist() == [["王科长", "first"]]
    assert len(audit_rows(registered, "period.lock")) == 1


def test_unlocking_a_period_that_is_not_locked_returns_false(registered):
    assert not locks.unlock(registered, "2025-03", by="admin.zhang")
    assert audit_rows(registered, "period.unlock") == []


def test_lock_and_unlock_write_audit_rows(registered):
    locks.lock(registered, "2025-03", by="王科长", reason="季度审核完成", address="10.1.2.3")
    locks.unlock(registered, "2025-03", by="admin.zhang")
    assert [(r.action, r.username, r.address, r.object, r.details) for r in audit_rows(registered)] == [
        ("period.lock", "王科长", "10.1.2.3", "2025-03", {"reason": "季度审核完成"}),
        ("period.unlock", "admin.zhang", None, "2025-03", {}),
    ]


@pytest.mark.parametrize("period", ["2025-13", "2025", "March", ""])
def test_a_bad_period_is_refused(registered, period):
    with pytest.raises(ValueError, match="a period is 'YYYY-MM'"):
        locks.lock(registered, period, by="王科长")
    assert locks.list_locks(registered).empty


def test_a_period_is_stored_as_its_first_day(registered):
    locks.lock(registered, "2025-03", by="王科长")
    with registered.connect() as conn:
        assert conn.execute(sa.text("SELECT period FROM period_locks")).scalar_one() == dt.date(2025, 3, 1)


# --- Ingest into a locked period --------------------------------------------------------------------


def monthly_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM monthly_values")).scalar_one()


def test_an_upload_into_a_locked_period_is_rejected_naming_who_locked_it(registered):
    locks.lock(registered, "2025-03", by="王科长", reason="季度审核完成")

    result = ingest(registered, monthly(month()), "3月快报.csv", username="clerk-a")

    assert result.status == "rejected"
    (error,) = result.errors
    assert (error.code, error.column, error.value) == ("period_locked", "period", "2025-03")
    assert "王科长" in error.message_zh and "2025-03" in error.message_zh
    assert "王科长" in error.message_en
    assert monthly_count(registered) == 0
    with registered.connect() as conn:  # the attempt is still logged
        logged = conn.execute(sa.text("SELECT status FROM submissions WHERE file_name = '3月快报.csv'")).all()
    assert [tuple(r) for r in logged] == [("rejected",)]


def test_a_file_touching_a_locked_and_an_open_period_stores_nothing(registered):
    locks.lock(registered, "2025-02", by="王科长")
    result = ingest(registered, monthly(month(), month(hospital_code=B, period="2025-02")), "快报.csv")
    assert result.status == "rejected"
    assert [e.value for e in result.errors if e.code == "period_locked"] == ["2025-02"]
    assert monthly_count(registered) == 0


def test_after_unlocking_the_same_file_is_accepted(registered):
    locks.lock(registered, "2025-03", by="王科长")
    assert ingest(registered, monthly(month()), "3月快报.csv").status == "rejected"
    locks.unlock(registered, "2025-03", by="王科长")
    assert ingest(registered, monthly(month()), "3月快报.csv").status == "accepted"
    assert monthly_count(registered) == 1


def test_a_lock_on_another_period_does_not_block_an_upload(registered):
    locks.lock(registered, "2025-02", by="王科长")
    assert ingest(registered, monthly(month()), "3月快报.csv").status == "accepted"


def test_a_lock_waits_for_an_upload_being_stored_in_that_period(registered):
    import threading

    from opsmon.ingest import store

    with registered.connect() as upload:  # an upload mid-transaction, past its lock check
        upload.begin()
        store.check_locks(upload, ["2025-03"])
        done = threading.Event()
        locker = threading.Thread(target=lambda: (locks.lock(registered, "2025-03", by="admin"), done.set()))
        locker.start()
        assert not done.wait(1.0)  # the lock waits: it cannot slip in under the upload
        upload.commit()
    locker.join(10)
    assert done.is_set() and list(locks.list_locks(registered)["period"]) == ["2025-03"]
