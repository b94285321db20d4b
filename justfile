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

# Benchmarks; each starts its own stack (Postgres, Redis, the simulator, tributary processes),
# measures a peer and the machine's limit in the same run and writes Markdown, JSON and PNG plots
# to crates/tributary-bench/results. Scenarios: ingest, delta, gateway, fleet, webhooks, pace, smoke;
# e.g. `just bench ingest --sizes 10000,100000` or `just bench gateway --clients 1,32`.
bench *ARGS:
    cargo build --release -p tributary -p tributary-bench
    target/release/tributary-bench {{ARGS}}
