"""Changes through the whole path: the simulated tool changes, the SDK's `trigger_sync` asks
for a sync, and `updated_after` / `include_deleted` return exactly what changed.

pytest runs this file after test_kombo_sdk.py (alphabetical order), whose tests rely on the
record counts measured before any change, and the tests here in their order: the deletion
(a FULL) before the edit (a DELTA). A DELTA fetches only what the tool reports as changed,
while Personio repeats each employee's supervisor inside the employee's own raw record, so
the next FULL legitimately updates the reports of an edited manager (their `remote_data`
changed); a FULL after the edit would therefore change more than the deletion.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from kombo import Kombo

from kombo_helpers import assert_strictly_valid, assert_utc_datetime, now_utc, sim_mutate, wait_for, walk

# A sync of 1,100 employees with absences takes seconds; a minute is a hang.
SYNC_WITHIN_S = 120.0


def force_new_sync(sdk: Kombo, sync_type: str) -> Any:
    """`trigger_sync` until it queues a sync of its own: a sync already open when the source
    changed may have read that part of the source before the change."""

    def trigger() -> Any:
        answer = sdk.general.trigger_sync(type_=sync_type)
        assert answer.data.type == sync_type, f"asked for {sync_type}, got {answer.data.type}"
        return None if answer.data.already_queued else answer

    return wait_for(f"a new {sync_type} sync is queued", trigger, within_s=SYNC_WITHIN_S, every_s=0.5)


def employees(sdk: Kombo, **params: Any) -> dict[str, Any]:
    return walk(sdk.hris.get_employees, page_size=250, **params).by_id()


def one_employee(sdk: Kombo, employee_id: str, include_deleted: bool = False) -> Any:
    page = sdk.hris.get_employees(ids=[employee_id], include_deleted=include_deleted).result
    assert_strictly_valid(page, f"employee {employee_id}")
    return page.data.results[0] if page.data.results else None


def describe_extras(sdk: Kombo, before: dict[str, Any], extras: set[str]) -> str:
    """For records `updated_after` returned unexpectedly: what differs from before the change
    (nothing visible means only their nested-change marker moved)."""
    if not extras:
        return ""
    now = employees(sdk, ids=sorted(extras)[:5], include_deleted=True)
    lines = []
    for record_id in sorted(extras)[:5]:
        old, new = before.get(record_id), now.get(record_id)
        if old is None or new is None:
            lines.append(f"  {record_id}: before {old is not None}, now {new is not None}")
            continue
        a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
        diff = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
        lines.append(f"  {record_id}: {str(diff)[:400] if diff else 'no visible difference'}")
    return f"\n{len(extras)} unexpected, the first ones:\n" + "\n".join(lines)


def changed_since(sdk: Kombo, since: dt.datetime, include_deleted: bool = False) -> set[str]:
    return set(walk(sdk.hris.get_employees, page_size=250, updated_after=since, include_deleted=include_deleted).ids)


def test_include_deleted_shows_a_deleted_employee(hris: Kombo) -> None:
    everyone = employees(hris)
    everyone_with_deleted = employees(hris, include_deleted=True)
    managers = {e.manager_id for e in everyone.values() if e.manager_id}
    absences: dict[str, set[str]] = {}
    for a in walk(hris.hris.get_absences, page_size=250).records:
        absences.setdefault(a.employee_id, set()).add(a.id)
    # A leaf (deleting it moves nobody else's manager) with employments, balances and absences,
    # which the tool deletes with it.
    leaf = next(
        e
        for e in sorted(everyone.values(), key=lambda e: e.id)
        if e.id not in managers and e.employments and e.time_off_balances and absences.get(e.id)
    )
    since = now_utc()

    outcome = sim_mutate({"tool": "personio", "kind": "delete_employee", "employee_id": int(leaf.remote_id)})
    assert outcome["deleted"], outcome
    # Only a complete FULL tracks deletions.
    force_new_sync(hris, "FULL")

    deleted = wait_for(
        f"the FULL sync marks {leaf.id} deleted",
        lambda: (lambda e: e if e is not None and e.remote_deleted_at is not None else None)(
            one_employee(hris, leaf.id, include_deleted=True)
        ),
        within_s=SYNC_WITHIN_S,
    )
    assert_utc_datetime(deleted.remote_deleted_at, "remote_deleted_at")
    assert deleted.remote_deleted_at > since

    assert one_employee(hris, leaf.id) is None, "hidden without include_deleted"
    got = changed_since(hris, since, include_deleted=True)
    assert got == {leaf.id}, (
        f"updated_after with include_deleted returned {len(got)} employees, expected only the deleted one "
        f"(in: {leaf.id in got}){describe_extras(hris, everyone, got - {leaf.id})}"
    )
    assert changed_since(hris, since) == set(), "and it is hidden without include_deleted"
    assert set(employees(hris)) == set(everyone) - {leaf.id}
    assert set(employees(hris, include_deleted=True)) == set(everyone_with_deleted), (
        "include_deleted still lists the deleted employee"
    )

    # Its employments, balances and absences went with it: exactly those changed, deleted.
    for what, list_fn, expected in [
        ("employments", hris.hris.get_employments, {em.id for em in leaf.employments}),
        ("time-off-balances", hris.hris.get_time_off_balances, {b.id for b in leaf.time_off_balances}),
        ("absences", hris.hris.get_absences, absences[leaf.id]),
    ]:
        changed = walk(list_fn, page_size=250, updated_after=since, include_deleted=True).records
        assert {r.id for r in changed} == expected, f"{what} changed since the deletion: {[r.id for r in changed][:10]}"
        for r in changed:
            assert r.remote_deleted_at is not None and r.remote_deleted_at > since, f"{what} {r.id} is deleted"
        assert walk(list_fn, page_size=250, updated_after=since).records == [], f"deleted {what} hidden by default"


def test_updated_after_returns_exactly_the_edited_employee_and_its_reports(hris: Kombo) -> None:
    everyone = employees(hris)
    reports: dict[str, set[str]] = {}
    for e in everyone.values():
        if e.manager_id:
            reports.setdefault(e.manager_id, set()).add(e.id)
    # A manager: per the spec, a change to the manager (a linked record) also moves its
    # reports' `updated_after` marker, but not their own `changed_at`.
    manager_id = max(reports, key=lambda m: (len(reports[m]), m))
    manager = everyone[manager_id]
    since = now_utc()
    assert changed_since(hris, since) == set(), "nothing changed before the edit"

    new_name = f"Sdk{secrets.token_hex(4)}"
    outcome = sim_mutate(
        {
            "tool": "personio",
            "kind": "edit_employee",
            "employee_id": int(manager.remote_id),
            "field": "first_name",
            "value": new_name,
        }
    )
    assert outcome["updated"], outcome
    force_new_sync(hris, "DELTA")

    edited = wait_for(
        f"the DELTA sync brings {manager_id}'s new first name",
        lambda: (lambda e: e if e is not None and e.first_name == new_name else None)(one_employee(hris, manager_id)),
        within_s=SYNC_WITHIN_S,
    )
    assert edited.changed_at > since, f"changed_at {edited.changed_at} moved past {since}"

    expected = {manager_id} | reports[manager_id]
    got = changed_since(hris, since)
    assert got == expected, (
        f"updated_after returned {len(got)} employees, expected the edited one and its {len(reports[manager_id])} "
        f"reports; missing {sorted(expected - got)[:5]}{describe_extras(hris, everyone, got - expected)}"
    )
    after = employees(hris, ids=sorted(reports[manager_id]))
    for report_id in reports[manager_id]:
        report = after[report_id]
        assert report.changed_at == everyone[report_id].changed_at, (
            f"report {report_id}: its own content did not change, so neither did changed_at"
        )
        assert report.manager is not None and report.manager.first_name == new_name, "the nested manager is current"
