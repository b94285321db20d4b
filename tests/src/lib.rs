//! End-to-end tests live under tests/<feature>/; this library holds what tests of several
//! crates share: [`browser`], a headless Chromium over WebDriver.

pub mod browser;
