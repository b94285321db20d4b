"""The peer of the ingest benchmark: dlt's declarative `rest_api` source reading the simulated
Personio employees endpoint and merging them into Postgres, as a user who picked dlt would.

Run by `tributary-bench ingest` from the venv it keeps under target/bench-venv; the last line of
stdout is one JSON object with what the benchmark reads (rows, timings, peak memory, settings).
Everything else dlt does is its default, except the pipeline's working directory (a temporary
one, so runs do not share state with ~/.dlt) and telemetry (off: no network here).
"""

import argparse
import json
import os
import resource
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True, help="Personio base URL, e.g. http://127.0.0.1:7070/personio")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--dsn", required=True, help="postgresql://user@host:port/database")
    parser.add_argument("--dataset", default="personio")
    parser.add_argument("--pipelines-dir", required=True)
    parser.add_argument("--page-size", type=int, default=100, help="Personio's maximum `limit`")
    args = parser.parse_args()

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    started = time.monotonic()
    import dlt
    import requests
    from dlt.sources.rest_api import rest_api_source

    imported = time.monotonic()

    # Personio v1: POST /v1/auth with the client credentials gives a bearer token.
    auth = requests.post(
        f"{args.base_url}/v1/auth",
        json={"client_id": args.client_id, "client_secret": args.client_secret},
        timeout=30,
    )
    auth.raise_for_status()
    token = auth.json()["data"]["token"]

    source = rest_api_source(
        {
            "client": {
                "base_url": f"{args.base_url}/v1/",
                "auth": {"type": "bearer", "token": token},
                # Personio's employees list: `limit` (at most 100) and `offset` in records, the
                # total in metadata.total_elements.
                "paginator": {
                    "type": "offset",
                    "limit": args.page_size,
                    "offset_param": "offset",
                    "limit_param": "limit",
                    "total_path": "metadata.total_elements",
                },
            },
            "resources": [
                {
                    "name": "employees",
                    "endpoint": {"path": "company/employees", "data_selector": "data"},
                    "primary_key": "id",
                    "write_disposition": "merge",
                    # Each employee is {"type", "attributes": {"id": {"value": ..}, ..}}: lift
                    # the id to a top-level column to merge on.
                    "processing_steps": [
                        {"map": lambda e: {"id": e["attributes"]["id"]["value"], **e}},
                    ],
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="personio_bench",
        pipelines_dir=args.pipelines_dir,
        destination=dlt.destinations.postgres(credentials=with_password(args.dsn)),
        dataset_name=args.dataset,
    )
    pipeline.run(source)
    finished = time.monotonic()

    trace = pipeline.last_trace
    steps = {step.step: round((step.finished_at - step.started_at).total_seconds(), 3) for step in trace.steps}
    row_counts = dict(trace.last_normalize_info.row_counts) if trace.last_normalize_info else {}
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "dlt_version": dlt.__version__,
                "python": sys.version.split()[0],
                "import_seconds": round(imported - started, 3),
                "run_seconds": round(finished - imported, 3),
                "steps_seconds": steps,
                # Rows normalized per table (the employees table and any child tables dlt made
                # of nested lists), all of which the load step writes.
                "row_counts": row_counts,
                # ru_maxrss is KiB on Linux; children are the normalize worker processes.
                "maxrss_self_kib": own,
                "maxrss_children_kib": children,
                "settings": settings(),
            }
        )
    )


def with_password(dsn: str) -> str:
    """dlt's Postgres credentials require a password; the benchmark's server trusts loopback
    connections, so a DSN without one gets a placeholder the server ignores."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password is not None:
        return dsn
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:unused@{host}"))


def settings() -> dict:
    """The worker settings dlt ran with: its defaults, as nothing here configures them."""
    from dlt.common.configuration import resolve_configuration
    from dlt.load.configuration import LoaderConfiguration
    from dlt.normalize.configuration import NormalizeConfiguration

    out = {"cpu_count": os.cpu_count()}
    for name, spec in (("normalize", NormalizeConfiguration), ("load", LoaderConfiguration)):
        # Partial: outside a running pipeline the destination's fields do not resolve.
        config = resolve_configuration(spec(), sections=(name,), accept_partial=True)
        out[name] = {"workers": config.workers, "pool_type": config.pool_type}
    return out


if __name__ == "__main__":
    main()
