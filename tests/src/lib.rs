//! Support for the end-to-end tests under tests/<feature>/ and for crates' own tests
//! (as a dev-dependency): a real headless Chromium, [`browser`].

pub mod browser;
