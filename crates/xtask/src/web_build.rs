//! Building the web app with Trunk, after installing the exact tools it
//! needs (Trunk runs offline and takes them from PATH).

use std::process::Command;

use crate::tools::{self, step};

const TRUNK_VERSION: &str = "0.21.14";
/// Must equal the wasm-bindgen crate in Cargo.lock and `Trunk.toml`.
const WASM_BINDGEN_VERSION: &str = "0.2.130";

fn version_output(program: &str) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `cargo install` of an exact version, skipped when it is on PATH already.
fn ensure_cargo_tool(program: &str, krate: &str, version: &str, locked: bool) -> Result<(), String> {
    if version_output(program).is_some_and(|v| v.contains(version)) {
        return Ok(());
    }
    step(&format!("cargo install {krate} {version}"));
    let mut cmd = tools::cargo();
    cmd.args(["install", krate, "--version", version]);
    if locked {
        cmd.arg("--locked");
    }
    tools::run(&mut cmd)
}

pub fn ensure_web_toolchain() -> Result<(), String> {
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !targets.lines().any(|t| t.trim() == "wasm32-unknown-unknown") {
        step("rustup target add wasm32-unknown-unknown");
        tools::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION, true)?;
    // Its locked dependency set is not on the registry; unlocked resolves.
    ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", WASM_BINDGEN_VERSION, false)
}

/// `trunk build` into `dist/`.
pub fn build() -> Result<(), String> {
    ensure_web_toolchain()?;
    step("cargo fetch (Trunk builds offline)");
    tools::run(tools::cargo().args(["fetch", "--target", "wasm32-unknown-unknown"]))?;
    step("trunk build (release)");
    tools::run(Command::new("trunk").arg("build").current_dir(tools::repo_root()))
}
