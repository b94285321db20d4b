//! End-to-end tests live under tests/<feature>/; this library is empty.
