//! Helpers shared by the tests that run the real `sohoa` binary.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root (tests run the binary from there, as a user would).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `sohoa ARGS` from the repository root.
pub fn sohoa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("sohoa runs")
}
