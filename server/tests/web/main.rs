//! The server on its real router (and, in `cli`, the real binary): access
//! and the site checks, the OpenAI API with the real SmolLM2 model,
//! downloads, and the hostile-client suites (`security`, `bounds`). One
//! test binary: each links the whole server.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod access;
mod api;
mod attachments;
mod bounds;
mod cli;
mod download;
mod security;
mod tools;
