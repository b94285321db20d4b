# Everyday tasks. `just --list` shows them. (The README's two commands need no `just`.)

# The embedded demo: simulated tools, an embedded mirror, the read API on 127.0.0.1:8080.
demo *ARGS:
    cargo run --release -- demo {{ARGS}}

# The whole test suite (Postgres on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 if present).
test *ARGS:
    cargo test --workspace {{ARGS}}

# What CI runs: starts Postgres and Redis if needed, then the tests.
ci:
    bash .ci/run

# Formatting and lints.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Serve the simulated tools on 127.0.0.1:7070.
sim *ARGS:
    cargo run --release -- sim {{ARGS}}

# Apply migrations to DATABASE_URL.
migrate:
    cargo run --release -- migrate

# Benchmarks, e.g. `just bench ingest --employees 100000` (FULL sync + identical re-sync) or
# `just bench enqueue --integrations 10000` (a scheduler tick with every integration due) or
# `just bench dispatch --jobs 10000` (no-op jobs through one worker process).
bench *ARGS:
    cargo run --release -p tributary-bench -- {{ARGS}}
