//! Black-box tests over HTTP: one test binary, one module per area.

mod auth;
mod guide_examples;
mod helpers;
