"""Fixtures: SDK clients as a consumer configures them, and what the harness measured in the
mirror before the tests started (record counts per endpoint).

The Rust harness (crates/tributary/tests/kombo_sdk.rs) sets:
  TRIBUTARY_URL                the gateway, e.g. http://127.0.0.1:PORT (the SDK gets .../v1)
  TRIBUTARY_API_KEY            a key of environment A
  TRIBUTARY_OTHER_ENV_API_KEY  a key of environment B
  HRIS_INTEGRATION_ID          Personio in A, >= 1,100 employees, first FULL sync succeeded
  ATS_INTEGRATION_ID           Greenhouse in A, first FULL sync succeeded
  FOREIGN_INTEGRATION_ID       Personio in B
  SIM_URL                      the simulator (its /_control API)
  EXPECTED_COUNTS              JSON {"/hris/employees": n, ...}: live records per endpoint
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from kombo import Kombo, errors

from kombo_helpers import client, env


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A response the SDK's models reject fails the test with one line per distinct problem
    (`results.*.custom_fields: Field required (250x)`) instead of pydantic's line per record."""
    try:
        return (yield)
    except errors.ResponseValidationError as error:
        raise AssertionError(summarize_validation_error(error)) from None


def summarize_validation_error(error: errors.ResponseValidationError) -> str:
    request = error.raw_response.request
    where = f"{request.method} {request.url.path}?{request.url.query.decode()}"
    cause = error.cause
    if not hasattr(cause, "errors"):
        return f"the SDK rejected the response of {where}: {error.message}"
    problems: Counter[str] = Counter()
    for problem in cause.errors():
        loc = ".".join("*" if isinstance(part, int) else str(part) for part in problem["loc"])
        loc = loc.removeprefix("body.")
        got = "" if problem["type"] == "missing" else f" (got {str(problem.get('input'))[:80]!r})"
        problems[f"{loc}: {problem['msg']}{got}"] += 1
    lines = [f"  {what} ({n}x)" for what, n in problems.most_common()]
    return f"the SDK's models reject the response of {where}:\n" + "\n".join(lines)


@pytest.fixture(scope="session")
def api_key() -> str:
    return env("TRIBUTARY_API_KEY")


@pytest.fixture(scope="session")
def other_env_api_key() -> str:
    return env("TRIBUTARY_OTHER_ENV_API_KEY")


@pytest.fixture(scope="session")
def hris_id() -> str:
    return env("HRIS_INTEGRATION_ID")


@pytest.fixture(scope="session")
def ats_id() -> str:
    return env("ATS_INTEGRATION_ID")


@pytest.fixture(scope="session")
def foreign_id() -> str:
    return env("FOREIGN_INTEGRATION_ID")


@pytest.fixture(scope="session")
def expected_counts() -> dict[str, int]:
    counts: dict[str, Any] = json.loads(env("EXPECTED_COUNTS"))
    return {path: int(n) for path, n in counts.items()}


@pytest.fixture(scope="session")
def hris(api_key: str, hris_id: str) -> Kombo:
    """The SDK as a consumer of the Personio integration configures it."""
    return client(api_key, hris_id)


@pytest.fixture(scope="session")
def ats(api_key: str, ats_id: str) -> Kombo:
    return client(api_key, ats_id)


@pytest.fixture(scope="session")
def general(api_key: str) -> Kombo:
    """For calls that name no integration (check-api-key, integration details)."""
    return client(api_key)
