//! `cargo xtask`: the project's two entry points.
//!
//! - `cargo xtask test`: installs what the suite needs (Mesa's Vulkan
//!   driver for wgpu tests on lavapipe), fetches and converts the MobileSAM
//!   weights, then runs every test with the wgpu tests made mandatory.
//! - `cargo xtask demo`: see `demo.rs`.
//!
//! Each step says what it does; a step whose result is already present is
//! skipped, so a second run costs little.

mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("weights") => weights(),
        _ => Err(
            "usage: cargo xtask test [cargo test args...] | cargo xtask weights".to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Fetches the official MobileSAM checkpoint and converts it (skipped when
/// the converted files are present and verified by the manifest).
fn weights() -> Result<(), String> {
    tools::step("weights: fetch and convert MobileSAM");
    tools::run(tools::cargo().args(["run", "--quiet", "-p", "s2m-cli", "--", "weights", "fetch", "--dir"]).arg(tools::weights_dir()))
}

fn test(extra: &[String]) -> Result<(), String> {
    tools::ensure_python_pip()?;
    tools::ensure_vulkan_driver()?;
    weights()?;
    tools::step("tests: whole workspace (wgpu tests required)");
    tools::run(
        tools::cargo()
            .args(["test", "--workspace"])
            .args(extra)
            .env("S2M_WEIGHTS_DIR", tools::weights_dir())
            .env("S2M_REQUIRE_WGPU", "1"),
    )
}
