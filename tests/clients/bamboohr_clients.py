"""PyBambooHR from PyPI against the simulator's BambooHR.

PyBambooHR has no base-URL option: it sets `base_url` to
`https://api.bamboohr.com/api/gateway.php/<subdomain>/v1/` in its constructor. That instance
attribute is overwritten with the simulator's gateway URL; nothing else is touched.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
import urllib.request

from clientcheck import ROUND, SIM, Checks, expect_equal, stats, version

DOMAIN = "demo"
API_KEY = "sim-bamboohr-key"
BASE = f"{SIM}/bamboohr/api/gateway.php/{DOMAIN}/v1/"


def raw(path: str):
    """One documented JSON request, for the truth a client's answer is compared with."""
    req = urllib.request.Request(BASE + path, headers={"Accept": "application/json"})
    token = base64.b64encode(f"{API_KEY}:x".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)


def main() -> None:
    from PyBambooHR.PyBambooHR import PyBambooHR

    truth = stats("bamboohr")
    c = Checks("PyBambooHR", version("PyBambooHR"))
    if ROUND == "documented-rate-limits":
        # PyBambooHR does not wait out a 429. BambooHR publishes no number; the simulator's
        # stand-in is 10 requests a second, so each check starts in a window of its own (every
        # check sends at most three requests) and the throttling is met on purpose below.
        check = c.check

        def paced(*args, **kwargs):
            time.sleep(1.1)
            check(*args, **kwargs)

        c.check = paced
    b = PyBambooHR(subdomain=DOMAIN, api_key=API_KEY)
    b.base_url = BASE
    state: dict = {}

    def directory():
        state["directory"] = b.get_employee_directory()
        want = len(raw("employees/directory")["employees"])
        return expect_equal("directory entries", len(state["directory"]), want)

    c.check("auth + employee directory", directory)

    def one():
        first = state["directory"][0]["id"]
        e = b.get_employee(first, ["firstName", "lastName", "workEmail", "hireDate"])
        expect_equal("id", e["id"], first)
        return f"id {e['id']}: {e['firstName']} {e['lastName']}, hired {e['hireDate']}"

    c.check("employee by id with fields", one)

    def everything():
        e = b.get_employee(state["directory"][0]["id"])  # every field the client knows
        return f"{len(e)} fields answered (unknown ones left out, as documented)"

    c.check("employee by id, all client fields", everything)

    c.check(
        "meta users",
        lambda: expect_equal("users", len(b.get_meta_users()), truth["employees"] + 1),
    )
    c.check("meta fields", lambda: f"{len(b.get_meta_fields())} fields")
    c.check("meta lists", lambda: f"{len(b.get_meta_lists())} lists")

    def changed():
        body = b.get_employee_changes(since=datetime.datetime(2000, 1, 1))
        return expect_equal("changed since 2000", len(body["employees"]), truth["employees"])

    c.check("changed employees (employees/changed/)", changed)

    def time_off():
        got = b.get_time_off_requests(start_date="2000-01-01", end_date="2100-01-01")
        return expect_equal("time-off requests", len(got), truth["absences"])

    c.check("time-off requests", time_off)

    def table():
        # It sends Accept: application/json and parses the answer as XML.
        try:
            b.get_tabular_data("jobInfo", state["directory"][0]["id"])
        except Exception as exc:
            assert "syntax error" in str(exc), exc
            return "JSON answered (as asked), the client parses XML"
        raise AssertionError("the JSON answer parsed as XML")

    c.check("jobInfo table", table, expect="client")

    def report():
        # It posts to `reports/custom/` (trailing slash), which no BambooHR page documents.
        try:
            b.request_custom_report(["firstName", "lastName"], report_format="json")
        except Exception as exc:
            assert "404" in str(exc), exc
            return "404 for reports/custom/ (documented: reports/custom)"
        raise AssertionError("reports/custom/ was served")

    c.check("custom report (reports/custom/)", report, expect="undocumented")

    def all_employees():
        # Reads every user's employee one by one, including employees/0 for the key's user,
        # an administrator without an employee record.
        try:
            b.get_all_employees(field_list=["firstName"])
        except Exception as exc:
            assert "employees/0" in str(exc) and "404" in str(exc), exc
            return "404 for employees/0 (the API key's user has no employee)"
        raise AssertionError("employees/0 was found")

    def all_employees_throttled():
        # 250 reads in a row meet the throttling, which the client does not wait out.
        try:
            b.get_all_employees(field_list=["firstName"])
        except Exception as exc:
            assert "429" in str(exc), exc
            return "429 raised to the caller, not waited out"
        raise AssertionError("250 reads in a row were never throttled")

    if ROUND == "documented-rate-limits":
        c.check("get_all_employees (users -> employees/{id})", all_employees_throttled, "client")
    else:
        c.check("get_all_employees (users -> employees/{id})", all_employees, "undocumented")

    if ROUND != "documented-rate-limits":
        return

    def burst():
        first = state["directory"][0]["id"]
        for n in range(1, 31):
            try:
                b.get_employee(first)
            except Exception as exc:
                response = getattr(exc, "response", None)
                assert response is not None and response.status_code == 429, exc
                wait = response.headers.get("Retry-After")
                assert wait and wait.isdigit(), response.headers
                return f"request {n}: 429, Retry-After {wait} raised to the caller, not waited out"
        raise AssertionError("30 requests in a row were never throttled")

    c.check("30 employee reads in a row (429 + Retry-After)", burst, expect="client")


if __name__ == "__main__":
    main()
