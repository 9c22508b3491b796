//! The operator console: security over plain HTTP (`security`), and what a person does in a
//! real browser (`browser`, Debian `chromium` + `chromium-driver`; skipped with a printed
//! reason when they are missing, failed instead when `MALIPO_BROWSER_TESTS=required`).

mod browser;
mod pages;
mod security;
mod speed;
mod support;
