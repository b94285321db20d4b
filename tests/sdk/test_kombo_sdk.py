"""The official `kombo` SDK against tributary's gateway: every list endpoint, pagination,
filters, the integration endpoints and the error cases, with every response parsed by the
SDK's own models (a response that does not fit raises `ResponseValidationError`, which fails
the test) and then checked strictly (no enum value outside the spec).

These tests only read. The ones that change the source and sync are in
test_kombo_sdk_changes.py, which pytest runs after this file, so the counts the harness
measured before the run hold here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, Callable

import httpx
import pytest
from kombo import Kombo, errors

from kombo_helpers import Walk, assert_strictly_valid, assert_utc_datetime, client, walk

# (path, SDK group, SDK method) of every list endpoint the gateway serves.
HRIS_ENDPOINTS = [
    ("/hris/employees", "get_employees"),
    ("/hris/employments", "get_employments"),
    ("/hris/groups", "get_groups"),
    ("/hris/locations", "get_locations"),
    ("/hris/legal-entities", "get_legal_entities"),
    ("/hris/absence-types", "get_absence_types"),
    ("/hris/absences", "get_absences"),
    ("/hris/time-off-balances", "get_time_off_balances"),
]
ATS_ENDPOINTS = [
    ("/ats/jobs", "get_jobs"),
    ("/ats/candidates", "get_candidates"),
    ("/ats/applications", "get_applications"),
    ("/ats/application-stages", "get_application_stages"),
    ("/ats/users", "get_users"),
    ("/ats/tags", "get_tags"),
    ("/ats/interviews", "get_interviews"),
    ("/ats/offers", "get_offers"),
    ("/ats/rejection-reasons", "get_rejection_reasons"),
]
ENDPOINTS = [(p, "hris", m) for p, m in HRIS_ENDPOINTS] + [(p, "ats", m) for p, m in ATS_ENDPOINTS]
METHOD = {path: (group, method) for path, group, method in ENDPOINTS}


def list_fn(sdk: Kombo, path: str) -> Callable[..., Any]:
    group, method = METHOD[path]
    return getattr(getattr(sdk, group), method)


@pytest.fixture(scope="session")
def listing(hris: Kombo, ats: Kombo) -> Callable[[str], Walk]:
    """Every record of an endpoint (pages of 250), walked once per session."""
    cache: dict[str, Walk] = {}

    def get(path: str) -> Walk:
        if path not in cache:
            sdk = hris if path.startswith("/hris/") else ats
            cache[path] = walk(list_fn(sdk, path), page_size=250)
        return cache[path]

    return get


def ids_of(records: list[Any]) -> set[str]:
    return {r.id for r in records}


def expect_error(call: Callable[[], Any], error_type: type, code: str) -> errors.SDKError:
    """`call` raises the SDK's `error_type` carrying Kombo's `code`, with a 4xx status. Fails
    with one line naming what came instead (pytest's introspection of the SDK's error objects
    runs to pages)."""
    try:
        result = call()
    except errors.SDKError as raised:
        error = raised
    else:
        pytest.fail(f"expected {error_type.__name__} with {code}, got a success: {str(result)[:300]}")
    if not isinstance(error, error_type):
        pytest.fail(f"expected {error_type.__name__} with {code}, got {type(error).__name__}: {error}")
    got = error.data.error.code
    if got != code:
        pytest.fail(f"expected {code}, got {got} (HTTP {error.status_code}): {error.message}")
    if not 400 <= error.status_code < 500:
        pytest.fail(f"{code} with HTTP {error.status_code}, not a 4xx: {error.message}")
    assert error.data.error.message, "an error says what is wrong"
    return error


# ---------------------------------------------------------------------------------------------
# check-api-key and integration details
# ---------------------------------------------------------------------------------------------


def test_check_api_key_names_the_keys_environment(general: Kombo, other_env_api_key: str) -> None:
    mine = general.general.check_api_key()
    assert mine.STATUS == "success"
    assert isinstance(mine.data.environment_id, str) and mine.data.environment_id
    theirs = client(other_env_api_key).general.check_api_key()
    assert theirs.data.environment_id != mine.data.environment_id, "two environments, two ids"


@pytest.mark.parametrize(
    "which,tool,category,models",
    [
        ("hris", "personio", "HRIS", [p for p, _ in HRIS_ENDPOINTS]),
        ("ats", "greenhouse", "ATS", [p for p, _ in ATS_ENDPOINTS]),
    ],
)
def test_get_integration_details(
    general: Kombo, hris_id: str, ats_id: str, which: str, tool: str, category: str, models: list[str]
) -> None:
    integration_id = hris_id if which == "hris" else ats_id
    details = general.general.get_integration_details(integration_id=integration_id)
    assert_strictly_valid(details, f"GET /integrations/{integration_id}")
    data = details.data
    assert data.id == integration_id
    assert data.tool.id == tool
    assert data.category == category
    assert data.status == "ACTIVE", "credentials are valid and the first sync succeeded"
    assert data.setup_status == "COMPLETED"
    assert_utc_datetime(data.created_at, "created_at")
    # Kombo names read models by their scope id, e.g. `hris_employees` for /hris/employees.
    read_models = {m.id: m for m in data.read_models}
    for path in models:
        scope_id = path.strip("/").replace("/", "_").replace("-", "_")
        assert scope_id in read_models, f"{scope_id} missing from read_models {sorted(read_models)}"
        model = read_models[scope_id]
        assert model.is_available, f"{scope_id} is synced, so available"
        assert model.coverage_status == "SUPPORTED", f"{scope_id}: {model.coverage_status}"
        assert model.scope_config_setting == "ENABLED", f"{scope_id}: default scope enables it"


def test_force_sync_queues_a_sync(hris: Kombo) -> None:
    answer = hris.general.trigger_sync(type_="DELTA")
    assert answer.STATUS == "success"
    assert answer.data.type == "DELTA"
    assert isinstance(answer.data.sync_id, str) and answer.data.sync_id
    assert isinstance(answer.data.already_queued, bool)


# ---------------------------------------------------------------------------------------------
# every list endpoint
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [p for p, _, _ in ENDPOINTS])
def test_endpoint_lists_every_live_record(
    path: str, listing: Callable[[str], Walk], expected_counts: dict[str, int]
) -> None:
    records = listing(path).records
    assert expected_counts[path] > 0, f"the simulated tool has {path} records"
    assert len(records) == expected_counts[path], (
        f"{path}: {len(records)} records through the SDK, {expected_counts[path]} live in the mirror"
    )
    for r in records:
        assert isinstance(r.id, str) and r.id, f"{path}: id {r.id!r}"
        assert_utc_datetime(r.changed_at, f"{path} {r.id} changed_at")
        assert r.remote_deleted_at is None, f"{path} {r.id}: deleted record listed without include_deleted"


def test_pagination_walks_more_than_a_thousand_employees(hris: Kombo, listing: Callable[[str], Walk]) -> None:
    """The SDK's own `.next()` through every page of 100 (the default page size)."""
    pages = walk(hris.hris.get_employees)
    total = sum(len(p) for p in pages.pages)
    assert total >= 1_000, f"only {total} employees: the harness syncs at least 1,100"
    assert len(pages.pages) == -(-total // 100), f"{len(pages.pages)} pages of 100 for {total} records"
    assert set(pages.ids) == set(listing("/hris/employees").ids), "pages of 100 and of 250 list the same employees"


def test_small_pages_and_page_size_bounds(hris: Kombo, listing: Callable[[str], Walk]) -> None:
    # page_size 1 and 250 are the bounds the spec allows.
    first = hris.hris.get_employees(page_size=1)
    assert len(first.result.data.results) == 1 and first.result.data.next
    second = first.next()
    assert len(second.result.data.results) == 1
    assert second.result.data.results[0].id != first.result.data.results[0].id
    big = hris.hris.get_employees(page_size=250)
    assert len(big.result.data.results) == 250


def test_odd_page_size_walks_the_same_records(hris: Kombo, listing: Callable[[str], Walk]) -> None:
    """Pages of 7 (a size that divides nothing here) give the same set as pages of 250."""
    absences = walk(hris.hris.get_absences, page_size=7)
    assert set(absences.ids) == set(listing("/hris/absences").ids)


def test_employees_typed_fields(listing: Callable[[str], Walk]) -> None:
    employees = listing("/hris/employees").records
    statuses = Counter(e.employment_status for e in employees)
    assert set(statuses) <= {"ACTIVE", "PENDING", "INACTIVE", "LEAVE", None}, statuses
    assert statuses["ACTIVE"] > 0, statuses
    assert any(e.first_name for e in employees) and any(e.work_email for e in employees)
    for e in employees:
        assert isinstance(e.remote_id, str) and e.remote_id
        assert e.weekly_hours is None or isinstance(e.weekly_hours, float)
        for field in ["start_date", "termination_date", "date_of_birth", "remote_created_at"]:
            value = getattr(e, field)
            if value is not None:
                assert_utc_datetime(value, f"employee {e.id} {field}")
        for employment in e.employments:
            assert employment.employee_id == e.id, f"employment {employment.id} nested under {e.id}"
            assert employment.pay_rate is None or isinstance(employment.pay_rate, float)
        for balance in e.time_off_balances:
            assert balance.employee_id == e.id
            assert balance.balance is None or isinstance(balance.balance, float)
        if e.manager is not None:
            assert e.manager.id == e.manager_id
        if e.legal_entity is not None:
            assert e.legal_entity.id == e.legal_entity_id
        if e.work_location is not None:
            assert e.work_location.id == e.work_location_id
    assert any(e.employments for e in employees), "employees carry their employments"
    assert any(e.manager is not None for e in employees), "managers are resolved"


def test_hris_references_resolve(listing: Callable[[str], Walk]) -> None:
    employees = listing("/hris/employees").by_id()
    employments = listing("/hris/employments").by_id()
    groups = ids_of(listing("/hris/groups").records)
    locations = ids_of(listing("/hris/locations").records)
    legal_entities = ids_of(listing("/hris/legal-entities").records)
    absence_types = ids_of(listing("/hris/absence-types").records)
    for e in employees.values():
        assert e.manager_id is None or e.manager_id in employees, f"{e.id}: manager {e.manager_id}"
        assert e.legal_entity_id is None or e.legal_entity_id in legal_entities, f"{e.id}: {e.legal_entity_id}"
        assert e.work_location_id is None or e.work_location_id in locations, f"{e.id}: {e.work_location_id}"
        for g in e.groups:
            assert g.id in groups, f"{e.id}: group {g.id}"
        for b in e.time_off_balances:
            assert b.type_id in absence_types, f"{e.id}: balance type {b.type_id}"
    nested = {em.id for e in employees.values() for em in e.employments}
    assert nested == set(employments), "each employment is nested under its employee, and only there"
    for em in employments.values():
        assert em.employee_id in employees, f"employment {em.id}: employee {em.employee_id}"
    for a in listing("/hris/absences").records:
        assert a.employee_id in employees, f"absence {a.id}: employee {a.employee_id}"
        assert a.type_id is None or a.type_id in absence_types
        if a.type is not None:
            assert a.type.id == a.type_id
    nested_balances = {b.id for e in employees.values() for b in e.time_off_balances}
    for b in listing("/hris/time-off-balances").records:
        assert b.employee_id in employees and b.type_id in absence_types
        assert b.type.id == b.type_id
        assert b.id in nested_balances, f"balance {b.id} is nested under its employee"


def test_ats_references_resolve(listing: Callable[[str], Walk]) -> None:
    jobs = listing("/ats/jobs").by_id()
    candidates = listing("/ats/candidates").by_id()
    applications = listing("/ats/applications").by_id()
    stages = ids_of(listing("/ats/application-stages").records)
    tags = ids_of(listing("/ats/tags").records)
    users = ids_of(listing("/ats/users").records)
    interviews = listing("/ats/interviews").records
    offers = listing("/ats/offers").records
    for job in jobs.values():
        assert job.status in {"OPEN", "CLOSED", "DRAFT", "ARCHIVED", None}
        for stage in job.stages:
            assert stage.id in stages, f"job {job.id}: stage {stage.id}"
    for app in applications.values():
        assert app.outcome in {"PENDING", "HIRED", "DECLINED", None}
        assert app.candidate_id in candidates, f"application {app.id}: candidate {app.candidate_id}"
        assert app.job_id in jobs, f"application {app.id}: job {app.job_id}"
        assert app.current_stage_id is None or app.current_stage_id in stages
        if app.candidate is not None:
            assert app.candidate.id == app.candidate_id
        if app.job is not None:
            assert app.job.id == app.job_id
        if app.current_stage is not None:
            assert app.current_stage.id == app.current_stage_id
    nested_apps = {a.id for c in candidates.values() for a in c.applications}
    assert nested_apps == set(applications), "each application is nested under its candidate"
    for c in candidates.values():
        for t in c.tags:
            assert t.id in tags, f"candidate {c.id}: tag {t.id}"
    for i in interviews:
        assert i.application_id in applications, f"interview {i.id}: application {i.application_id}"
        for u in i.users:
            assert u.id in users, f"interview {i.id}: user {u.id}"
    assert {i.id for a in applications.values() for i in a.interviews} == ids_of(interviews)
    for o in offers:
        assert o.application_id in applications, f"offer {o.id}: application {o.application_id}"
    assert {o.id for a in applications.values() for o in a.offers} == ids_of(offers)


# ---------------------------------------------------------------------------------------------
# filters: each result equals the full listing filtered the way the spec describes
# ---------------------------------------------------------------------------------------------


def assert_filter(fn: Callable[..., Any], expected: set[str], what: str, **params: Any) -> None:
    got = walk(fn, page_size=250, **params)
    assert expected, f"{what}: the test needs a non-empty expectation"
    assert set(got.ids) == expected, (
        f"{what}: {len(got.ids)} results, {len(expected)} expected; "
        f"unexpected {sorted(set(got.ids) - expected)[:5]}, missing {sorted(expected - set(got.ids))[:5]}"
    )


@pytest.mark.parametrize("path", [p for p, _, _ in ENDPOINTS])
def test_ids_and_remote_ids_filters(
    path: str, hris: Kombo, ats: Kombo, listing: Callable[[str], Walk]
) -> None:
    records = listing(path).records
    fn = list_fn(hris if path.startswith("/hris/") else ats, path)
    picked = records[:: max(1, len(records) // 3)][:3]
    assert_filter(fn, ids_of(picked), f"{path} ids", ids=[r.id for r in picked])
    with_remote = [r for r in picked if r.remote_id]
    if with_remote:
        assert_filter(fn, ids_of(with_remote), f"{path} remote_ids", remote_ids=[r.remote_id for r in with_remote])
    # Top-level filters AND together: an id with a remote id of another record matches nothing.
    if len(with_remote) >= 2:
        none = fn(ids=[with_remote[0].id], remote_ids=[with_remote[1].remote_id], page_size=250)
        assert none.result.data.results == [] and none.result.data.next is None


def test_employee_filters(hris: Kombo, listing: Callable[[str], Walk]) -> None:
    employees = listing("/hris/employees").records
    fn = hris.hris.get_employees
    for statuses in (["ACTIVE"], ["INACTIVE", "LEAVE", "PENDING"]):
        expected = {e.id for e in employees if e.employment_status in statuses}
        if expected:
            assert_filter(fn, expected, f"employment_statuses={statuses}", employment_statuses=statuses)
    with_email = [e for e in employees if e.work_email][:2]
    assert with_email, "employees have work emails"
    # Case-insensitive, per the spec.
    assert_filter(
        fn,
        ids_of(with_email),
        "work_emails",
        work_emails=[with_email[0].work_email.upper(), with_email[1].work_email],
    )
    group = Counter(g.id for e in employees for g in e.groups).most_common(1)[0][0]
    assert_filter(fn, {e.id for e in employees if any(g.id == group for g in e.groups)}, "group_ids", group_ids=[group])
    entity = Counter(e.legal_entity_id for e in employees if e.legal_entity_id).most_common(1)[0][0]
    assert_filter(fn, {e.id for e in employees if e.legal_entity_id == entity}, "legal_entity_ids", legal_entity_ids=[entity])
    location = Counter(e.work_location_id for e in employees if e.work_location_id).most_common(1)[0][0]
    assert_filter(
        fn, {e.id for e in employees if e.work_location_id == location}, "work_location_ids", work_location_ids=[location]
    )


def test_hris_filters(hris: Kombo, listing: Callable[[str], Walk]) -> None:
    groups = listing("/hris/groups").records
    types = Counter(g.type for g in groups if g.type)
    assert types, "groups have types"
    kind = types.most_common(1)[0][0]
    assert_filter(hris.hris.get_groups, {g.id for g in groups if g.type == kind}, f"groups types={kind}", types=[kind])
    named = next(g for g in groups if g.name and len(g.name) >= 4)
    word = named.name[1:4].lower()
    assert_filter(
        hris.hris.get_groups,
        {g.id for g in groups if g.name and word in g.name.lower()},
        f"groups name_contains={word!r}",
        name_contains=word,
    )
    absences = listing("/hris/absences").records
    employee_id = Counter(a.employee_id for a in absences).most_common(1)[0][0]
    assert_filter(
        hris.hris.get_absences, {a.id for a in absences if a.employee_id == employee_id}, "absences employee_id",
        employee_id=employee_id,
    )
    type_id = Counter(a.type_id for a in absences if a.type_id).most_common(1)[0][0]
    assert_filter(
        hris.hris.get_absences, {a.id for a in absences if a.type_id == type_id}, "absences type_ids", type_ids=[type_id]
    )
    balances = listing("/hris/time-off-balances").records
    assert_filter(
        hris.hris.get_time_off_balances,
        {b.id for b in balances if b.employee_id == employee_id},
        "time-off-balances employee_id",
        employee_id=employee_id,
    )


def test_absence_date_filters(hris: Kombo, listing: Callable[[str], Walk]) -> None:
    """date_from: absences that start or have not ended on/after the day; date_until: that
    start on or before the day (the spec's words)."""
    absences = [a for a in listing("/hris/absences").records if a.start_date is not None]
    starts = sorted(as_date(a.start_date) for a in absences)
    day = starts[len(starts) // 2]

    def ends(a: Any) -> dt.date:
        return as_date(a.end_date) if a.end_date is not None else dt.date.max

    expected_from = {a.id for a in absences if as_date(a.start_date) >= day or ends(a) >= day}
    assert_filter(hris.hris.get_absences, expected_from, f"date_from={day}", date_from=day)
    expected_until = {a.id for a in absences if as_date(a.start_date) <= day}
    assert_filter(hris.hris.get_absences, expected_until, f"date_until={day}", date_until=day)


def as_date(value: Any) -> dt.date:
    """Absence dates are plain `YYYY-MM-DD` strings in the spec (typed `Any` in the SDK)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    assert isinstance(value, str), f"absence date {value!r}"
    return dt.date.fromisoformat(value[:10])


def test_ats_filters(ats: Kombo, listing: Callable[[str], Walk]) -> None:
    jobs = listing("/ats/jobs").records
    status = Counter(j.status for j in jobs if j.status).most_common(1)[0][0]
    assert_filter(ats.ats.get_jobs, {j.id for j in jobs if j.status == status}, f"jobs statuses={status}", statuses=[status])
    named = next(j for j in jobs if j.name and len(j.name) >= 5)
    word = named.name[1:5].upper()
    assert_filter(
        ats.ats.get_jobs,
        {j.id for j in jobs if j.name and word.lower() in j.name.lower()},
        f"jobs name_contains={word!r}",
        name_contains=word,
    )

    applications = listing("/ats/applications").records
    job_id = Counter(a.job_id for a in applications).most_common(1)[0][0]
    assert_filter(ats.ats.get_applications, {a.id for a in applications if a.job_id == job_id}, "applications job_ids", job_ids=[job_id])
    outcome = Counter(a.outcome for a in applications if a.outcome).most_common(1)[0][0]
    assert_filter(
        ats.ats.get_applications, {a.id for a in applications if a.outcome == outcome}, f"outcomes={outcome}", outcomes=[outcome]
    )
    stage = Counter(a.current_stage_id for a in applications if a.current_stage_id).most_common(1)[0][0]
    assert_filter(
        ats.ats.get_applications,
        {a.id for a in applications if a.current_stage_id == stage},
        "current_stage_ids",
        current_stage_ids=[stage],
    )

    candidates = listing("/ats/candidates").records
    assert_filter(
        ats.ats.get_candidates,
        {a.candidate_id for a in applications if a.job_id == job_id},
        "candidates job_ids",
        job_ids=[job_id],
    )
    with_email = next(c for c in candidates if c.email_addresses and c.email_addresses[0].email_address)
    email = with_email.email_addresses[0].email_address
    assert_filter(
        ats.ats.get_candidates,
        {c.id for c in candidates if any((e.email_address or "").lower() == email.lower() for e in c.email_addresses or [])},
        "candidates email",
        email=email.upper(),
    )
    first_name = next(c.first_name for c in candidates if c.first_name)
    assert_filter(
        ats.ats.get_candidates,
        {c.id for c in candidates if (c.first_name or "").lower() == first_name.lower()},
        "candidates first_name",
        first_name=first_name.lower(),
    )

    users = listing("/ats/users").records
    user = next(u for u in users if u.email)
    assert_filter(ats.ats.get_users, {u.id for u in users if (u.email or "").lower() == user.email.lower()}, "users emails", emails=[user.email.upper()])

    interviews = listing("/ats/interviews").records
    job_of = {a.id: a.job_id for a in applications}
    interview_job = Counter(job_of[i.application_id] for i in interviews).most_common(1)[0][0]
    assert_filter(
        ats.ats.get_interviews,
        {i.id for i in interviews if job_of[i.application_id] == interview_job},
        "interviews job_ids",
        job_ids=[interview_job],
    )


# ---------------------------------------------------------------------------------------------
# errors: the SDK raises its error type with Kombo's code
# ---------------------------------------------------------------------------------------------


def sdk_call(sdk: Kombo, which: str, integration_id: str) -> Callable[[], Any]:
    """One call per kind of endpoint, by name, for the error cases."""
    return {
        "check-api-key": lambda: sdk.general.check_api_key(),
        "integration-details": lambda: sdk.general.get_integration_details(integration_id=integration_id),
        "force-sync": lambda: sdk.general.trigger_sync(type_="DELTA"),
        "hris-employees": lambda: sdk.hris.get_employees(),
        "hris-absences": lambda: sdk.hris.get_absences(),
        "ats-jobs": lambda: sdk.ats.get_jobs(),
        "ats-candidates": lambda: sdk.ats.get_candidates(),
    }[which]


def error_type_of(which: str) -> type:
    if which.startswith("hris-"):
        return errors.KomboHrisError
    if which.startswith("ats-"):
        return errors.KomboAtsError
    return errors.KomboGeneralError


# Malformed, well-formed but unknown (the shape `tributary api-key create` prints), and a key
# that repeats the scheme.
@pytest.mark.parametrize("key", ["trb_not-a-key", "trb_" + "A" * 43, "Bearer x"])
@pytest.mark.parametrize(
    "which", ["check-api-key", "integration-details", "force-sync", "hris-employees", "ats-jobs"]
)
def test_bad_api_key_is_authentication_invalid(hris_id: str, ats_id: str, which: str, key: str) -> None:
    integration_id = ats_id if which.startswith("ats-") else hris_id
    sdk = client(key, integration_id)
    expect_error(sdk_call(sdk, which, integration_id), error_type_of(which), "PLATFORM.AUTHENTICATION_INVALID")


@pytest.mark.parametrize("integration", ["unknown", "foreign"])
@pytest.mark.parametrize("which", ["integration-details", "force-sync", "hris-employees", "ats-jobs"])
def test_unknown_and_foreign_integrations_are_not_found(
    api_key: str, foreign_id: str, which: str, integration: str
) -> None:
    integration_id = foreign_id if integration == "foreign" else "personio:does-not-exist"
    sdk = client(api_key, integration_id)
    expect_error(sdk_call(sdk, which, integration_id), error_type_of(which), "PLATFORM.INTEGRATION_NOT_FOUND")


def test_other_environment_sees_only_its_own_integrations(
    other_env_api_key: str, hris_id: str, foreign_id: str
) -> None:
    expect_error(
        client(other_env_api_key, hris_id).hris.get_employees, errors.KomboHrisError, "PLATFORM.INTEGRATION_NOT_FOUND"
    )
    own = client(other_env_api_key, foreign_id).hris.get_employees(page_size=5)
    assert len(own.result.data.results) == 5


@pytest.mark.parametrize("page_size", [0, 251, -1])
@pytest.mark.parametrize("which", ["hris-employees", "ats-candidates"])
def test_page_size_out_of_range_is_input_invalid(hris: Kombo, ats: Kombo, which: str, page_size: int) -> None:
    if which == "hris-employees":
        call = lambda: hris.hris.get_employees(page_size=page_size)  # noqa: E731
    else:
        call = lambda: ats.ats.get_candidates(page_size=page_size)  # noqa: E731
    expect_error(call, error_type_of(which), "PLATFORM.INPUT_INVALID")


def rewriting(api_key: str, integration_id: str, param: str, value: str) -> Kombo:
    """An SDK client whose requests carry `param=value` whatever the call passed: the SDK
    validates dates before sending, so a malformed one only reaches the server this way. The
    answer still goes through the SDK's error handling."""

    def hook(request: httpx.Request) -> None:
        request.url = request.url.copy_set_param(param, value)

    return client(api_key, integration_id, client=httpx.Client(event_hooks={"request": [hook]}))


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "2024-05-01T25:00:00Z", "1714521600", "2024-05-01'--"])
@pytest.mark.parametrize("which", ["hris-employees", "ats-candidates"])
def test_malformed_updated_after_is_input_invalid(
    api_key: str, hris_id: str, ats_id: str, which: str, value: str
) -> None:
    integration_id = ats_id if which.startswith("ats-") else hris_id
    sdk = rewriting(api_key, integration_id, "updated_after", value)
    expect_error(sdk_call(sdk, which, integration_id), error_type_of(which), "PLATFORM.INPUT_INVALID")


@pytest.mark.parametrize("param", ["date_from", "date_until"])
def test_malformed_absence_dates_are_input_invalid(api_key: str, hris_id: str, param: str) -> None:
    sdk = rewriting(api_key, hris_id, param, "2024-02-30")
    expect_error(sdk.hris.get_absences, errors.KomboHrisError, "PLATFORM.INPUT_INVALID")


@pytest.mark.parametrize("cursor", ["forged", "eyJpZCI6ImFiYyJ9", "' OR 1=1 --"])
@pytest.mark.parametrize("which", ["hris-employees", "ats-jobs"])
def test_forged_cursors_are_input_invalid(hris: Kombo, ats: Kombo, which: str, cursor: str) -> None:
    if which == "hris-employees":
        call = lambda: hris.hris.get_employees(cursor=cursor)  # noqa: E731
    else:
        call = lambda: ats.ats.get_jobs(cursor=cursor)  # noqa: E731
    expect_error(call, error_type_of(which), "PLATFORM.INPUT_INVALID")


@pytest.fixture(scope="session")
def real_cursor(hris: Kombo) -> str:
    cursor = hris.hris.get_employees(page_size=10).result.data.next
    assert cursor, "1,100 employees need more than one page of 10"
    return cursor


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_tampered_cursor_is_input_invalid(hris: Kombo, real_cursor: str, where: str) -> None:
    """One character changed must not decode to another valid position."""
    at = {"start": 0, "middle": len(real_cursor) // 2, "end": len(real_cursor) - 1}[where]
    swapped = "A" if real_cursor[at] != "A" else "B"
    tampered = real_cursor[:at] + swapped + real_cursor[at + 1 :]
    expect_error(
        lambda: hris.hris.get_employees(page_size=10, cursor=tampered), errors.KomboHrisError, "PLATFORM.INPUT_INVALID"
    )


def test_cursor_of_another_endpoint_is_input_invalid(hris: Kombo, real_cursor: str) -> None:
    expect_error(
        lambda: hris.hris.get_employments(page_size=10, cursor=real_cursor),
        errors.KomboHrisError,
        "PLATFORM.INPUT_INVALID",
    )


def test_cursor_of_another_integration_is_input_invalid(
    real_cursor: str, other_env_api_key: str, foreign_id: str
) -> None:
    expect_error(
        lambda: client(other_env_api_key, foreign_id).hris.get_employees(page_size=10, cursor=real_cursor),
        errors.KomboHrisError,
        "PLATFORM.INPUT_INVALID",
    )


def test_genuine_cursor_continues_where_it_was_issued(hris: Kombo, real_cursor: str) -> None:
    first = hris.hris.get_employees(page_size=10).result.data.results
    second = hris.hris.get_employees(page_size=10, cursor=real_cursor).result.data.results
    assert len(second) == 10
    assert not ids_of(first) & ids_of(second), "the second page starts after the first"


def test_unknown_enum_filter_value_is_input_invalid(api_key: str, hris_id: str) -> None:
    expect_error(
        rewriting(api_key, hris_id, "employment_statuses", "ACTIVE,RETIRED").hris.get_employees,
        errors.KomboHrisError,
        "PLATFORM.INPUT_INVALID",
    )
