"""What every client script shares: where the simulator is, what it holds, and how a check's
outcome is printed.

A check is a function that returns a short detail and raises on a wrong outcome. `expect`
says which outcome is right:

- "pass": the client does what it means to do, against the simulator, as against the tool.
- "client": the client contradicts the vendor's documentation (the ledger row says where);
  the check asserts the documented outcome, so it fails if the simulator stops holding the
  client to the documentation.
- "undocumented": the client relies on something the vendor does not document either way;
  the simulator's choice is in the ledger, and the check asserts it.
- "unsimulated": the client reads something the simulator does not serve (outside the reads
  tributary syncs); the check asserts the simulator's 404.

Each check prints one tab-separated line: round, client, version, operation, status, detail.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import urllib.request
from importlib import metadata

SIM = os.environ.get("SIM_URL", "http://127.0.0.1:7391").rstrip("/")
ROUND = os.environ.get("ROUND", "plain")

STATUS = {
    "pass": "PASS",
    "client": "CLIENT-DIVERGES",
    "undocumented": "UNDOCUMENTED",
    "unsimulated": "NOT-SIMULATED",
}


def stats(tool: str) -> dict:
    """The simulated company's counts, from the control API (the truth a client is held to)."""
    with urllib.request.urlopen(f"{SIM}/_control/stats?tool={tool}", timeout=30) as resp:
        return json.load(resp)[tool]


def version(dist: str) -> str:
    return metadata.version(dist)


class Checks:
    def __init__(self, client: str, version: str) -> None:
        self.client = client
        self.version = version

    def check(self, operation: str, fn, expect: str = "pass") -> None:
        try:
            detail = fn()
            status = STATUS[expect]
        except Exception as exc:  # a check reports every failure, whatever raised it
            status = "FAIL"
            detail = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
        detail = " ".join(str(detail).split())[:160]
        print("\t".join([ROUND, self.client, self.version, operation, status, detail]), flush=True)


def expect_equal(what: str, got, want) -> str:
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
    return f"{what} = {got!r}"
