"""What the SDK tests share: the environment the Rust harness sets up, walking every page of a
list endpoint with the SDK's own `.next()`, a strict look at the parsed models, and the
simulator's control API.

The SDK's pydantic models are lenient on purpose (an enum value the SDK does not know parses
as `UnrecognizedStr`, an unknown union member as a `...Unknown` model) so that Kombo can add
values without breaking old clients. A server that claims to speak the spec must not rely on
that leniency, so `assert_strictly_valid` rejects both.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import httpx
import pydantic
from kombo import Kombo
from kombo.types.basemodel import UnrecognizedStr

# Each SDK call gets this long; the gateway answers from its mirror, so anything near it is a
# hang, not a slow page.
TIMEOUT_MS = 30_000


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: run these tests through `cargo test -p tributary --test kombo_sdk`, "
            "which starts the gateway, the simulator and the integrations they need"
        )
    return value


def server_url() -> str:
    return env("TRIBUTARY_URL").rstrip("/") + "/v1"


def client(api_key: str, integration_id: Optional[str] = None, **kwargs: Any) -> Kombo:
    return Kombo(
        api_key=api_key,
        integration_id=integration_id,
        server_url=server_url(),
        timeout_ms=TIMEOUT_MS,
        **kwargs,
    )


@dataclass
class Walk:
    """Every page of one listing, in order."""

    pages: list[list[Any]]

    @property
    def records(self) -> list[Any]:
        return [r for page in self.pages for r in page]

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.records]

    def by_id(self) -> dict[str, Any]:
        return {r.id: r for r in self.records}


def walk(list_fn: Callable[..., Any], *, max_pages: int = 1_000, **params: Any) -> Walk:
    """Calls `list_fn(**params)` and follows `.next()` to the end, checking the envelope of
    every page on the way: `status` success, at most `page_size` results, each page validated
    strictly, no id twice across the walk, and a walk that ends."""
    page_size = params.get("page_size", 100)
    response = list_fn(**params)
    pages: list[list[Any]] = []
    seen: set[str] = set()
    while response is not None:
        body = response.result
        assert body.STATUS == "success"
        results = list(body.data.results)
        assert len(results) <= page_size, f"page {len(pages) + 1} has {len(results)} results, page_size {page_size}"
        assert_strictly_valid(body, f"page {len(pages) + 1}")
        for record in results:
            assert record.id not in seen, f"{record.id} returned twice in one cursor walk (page {len(pages) + 1})"
            seen.add(record.id)
        next_cursor = body.data.next
        if next_cursor is not None:
            assert isinstance(next_cursor, str) and next_cursor.strip(), f"`next` is {next_cursor!r}"
            # Only the last page may be short: a short page with a cursor means the server
            # counts differently from the page size it was asked for.
            assert len(results) == page_size, (
                f"page {len(pages) + 1} has {len(results)} of {page_size} results but a `next` cursor"
            )
        pages.append(results)
        assert len(pages) <= max_pages, f"more than {max_pages} pages: the cursor walk does not end"
        response = response.next()
    return Walk(pages)


def unrecognized(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """(path, value) of every enum value outside the spec and every open-union fallback."""
    if isinstance(value, UnrecognizedStr):
        yield path, str(value)
    elif isinstance(value, pydantic.BaseModel):
        if type(value).__name__.endswith("Unknown"):
            yield path, f"unknown union member {type(value).__name__}"
        # Through __dict__: getattr warns on every field the spec marks deprecated.
        for name in type(value).model_fields:
            yield from unrecognized(value.__dict__.get(name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from unrecognized(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from unrecognized(item, f"{path}.{key}")


def assert_strictly_valid(model: Any, what: str) -> None:
    found = list(unrecognized(model))
    assert not found, f"{what}: values the spec does not allow (first 10): {found[:10]}"


def assert_utc_datetime(value: Any, what: str) -> None:
    assert isinstance(value, dt.datetime), f"{what} is {value!r}, not a datetime"
    assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0), f"{what} {value!r} is not UTC"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def sim_mutate(body: dict[str, Any]) -> dict[str, Any]:
    """POST {SIM_URL}/_control/mutate; the simulator's outcome (created/updated/deleted)."""
    response = httpx.post(env("SIM_URL").rstrip("/") + "/_control/mutate", json=body, timeout=30)
    assert response.status_code == 200, f"simulator refused {body}: {response.status_code} {response.text}"
    return response.json()


def wait_for(what: str, probe: Callable[[], Any], within_s: float = 120.0, every_s: float = 0.25) -> Any:
    """Calls `probe` until it returns something truthy; fails naming `what` after `within_s`."""
    deadline = time.monotonic() + within_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"{what}: not within {within_s:.0f} s (last probe: {last!r})")
