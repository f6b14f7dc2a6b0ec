"""The rows a rebuild holds in memory: copied for plans that may be dropped, lent otherwise."""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy import Column, MetaData, String, Table, Uuid, create_engine

from mediation.projections.held import HeldRows


def _table() -> Table:
    return Table(
        "cases", MetaData(), Column("case_id", Uuid, primary_key=True), Column("status", String)
    )


def test_a_plan_that_is_dropped_leaves_the_held_rows_as_they_were() -> None:
    held = HeldRows(_table())
    case_id = uuid4()
    with create_engine("sqlite://").connect() as conn:
        held.put(conn, {case_id: {"case_id": case_id, "status": "registered"}}, set())
        planned = held.get([case_id, uuid4()])
    planned[case_id]["status"] = "closed"  # a plan that is never written

    assert list(planned) == [case_id]
    assert held.get([case_id]) == {case_id: {"case_id": case_id, "status": "registered"}}


def test_lent_rows_are_the_held_ones_so_a_plan_changes_them_without_a_copy() -> None:
    held = HeldRows(_table(), lent=True)
    case_id = uuid4()
    with create_engine("sqlite://").connect() as conn:
        held.put(conn, {case_id: {"case_id": case_id, "status": "registered"}}, set())
    planned = held.get([case_id, uuid4()])
    planned[case_id]["status"] = "closed"

    assert list(planned) == [case_id]
    assert held.get([case_id])[case_id] is planned[case_id]
    assert held.get([case_id])[case_id]["status"] == "closed"
