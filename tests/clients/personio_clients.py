"""Personio clients from PyPI against the simulator's Personio (v1), pointed at it by base URL.

personio-py and personio-api-client both take a base URL; nothing is patched.
"""

from __future__ import annotations

from clientcheck import SIM, Checks, expect_equal, stats, version

BASE = f"{SIM}/personio/v1"
CLIENT_ID = "sim-personio-client"
CLIENT_SECRET = "sim-personio-secret"


def personio_py(truth: dict) -> None:
    from personio_py import Personio

    c = Checks("personio-py", version("personio-py"))
    p = Personio(base_url=f"{BASE}/", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    state: dict = {}

    def employees():
        # The client sends no limit/offset; since 31 Jan 2025 Personio answers the first 50.
        state["employees"] = p.get_employees()
        assert truth["employees"] > 50
        return expect_equal("employees without paging", len(state["employees"]), 50)

    c.check("auth + list employees (no paging)", employees, expect="client")

    def one():
        first = state["employees"][0]
        e = p.get_employee(first.id_)
        expect_equal("id", e.id_, first.id_)
        return f"id {e.id_}, {e.first_name} {e.last_name}, status {e.status}"

    c.check("employee by id (token echo)", one)

    def attributes():
        # No method of its own: the client's generic JSON request, with its token rotation.
        body = p.request_json("company/employees/attributes")
        keys = [a["key"] for a in body["data"]]
        assert "first_name" in keys and any(k.startswith("dynamic_") for k in keys), keys
        return f"{len(keys)} attributes, {sum(k.startswith('dynamic_') for k in keys)} dynamic_<n>"

    c.check("employee attributes (request_json)", attributes)

    c.check(
        "time-off types",
        lambda: expect_equal("types", len(p.get_absence_types()), truth["absence_types"]),
    )

    def paged():
        # The client pages time-offs from 1, as documented; 20 a page makes it page.
        body = p.request_paginated("company/time-offs", params={}, limit=20)
        state["time_offs"] = body["data"]
        return expect_equal("time-offs over pages of 20", len(body["data"]), truth["absences"])

    c.check("time-offs, paged (offset = page from 1)", paged)

    def absences():
        ids = [e.id_ for e in state["employees"]]
        want = sum(
            1
            for t in state["time_offs"]
            if t["attributes"]["employee"]["attributes"]["id"]["value"] in ids
        )
        got = p.get_absences(ids)
        return expect_equal("absences of the 50 employees", len(got), want)

    c.check("absences by employees[] + dates", absences)

    def absence():
        first = state["time_offs"][0]["attributes"]["id"]
        return expect_equal("id", p.get_absence(first).id_, first)

    c.check("time-off by id", absence)


def personio_api_client(truth: dict) -> None:
    from personio_api_client import PersonioClient

    c = Checks("personio-api-client", version("personio-api-client"))
    client = PersonioClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, base_url=BASE)

    c.check(
        "auth (query) + time-off types",
        lambda: expect_equal("types", len(client.get_time_off_types()), truth["absence_types"]),
    )

    def employees():
        # It asks for limit=200; Personio's maximum is 100 since 31 Jan 2025.
        try:
            client.get_employees(active_only=False)
        except Exception as exc:  # the client's own error type
            assert getattr(exc, "status_code", None) == 400, exc
            return "400 for limit=200 (documented maximum 100)"
        raise AssertionError("limit=200 was accepted")

    c.check("list employees (limit=200)", employees, expect="client")

    def time_offs():
        # It advances `offset` by records (0, 200); Personio reads it as a page number.
        got = len(client.get_time_offs())
        assert truth["absences"] > 200
        return expect_equal("time-offs read", got, 200)

    c.check("list time-offs (offset as records)", time_offs, expect="client")


def main() -> None:
    truth = stats("personio")
    personio_py(truth)
    personio_api_client(truth)


if __name__ == "__main__":
    main()
