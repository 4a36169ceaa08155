//! Building the web app with Trunk, after installing the exact tools it
//! needs (Trunk runs offline and takes them from PATH).

use std::path::PathBuf;
use std::process::Command;

use crate::precompress::gzip_app_files;
use crate::tools::{self, step};

const TRUNK_VERSION: &str = "0.21.14";
/// Debian's binaryen is too old for current wasm-bindgen output (the page
/// fails at start-up); npm's is recent. Must match `Trunk.toml`.
const BINARYEN_NPM_VERSION: &str = "132.0.0";
/// Must equal the wasm-bindgen crate in Cargo.lock and `Trunk.toml`.
const WASM_BINDGEN_VERSION: &str = "0.2.130";

fn version_output(program: &str) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `cargo install` of an exact version, skipped when it is on PATH already.
fn ensure_cargo_tool(
    program: &str,
    krate: &str,
    version: &str,
    locked: bool,
) -> Result<(), String> {
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

/// Installs npm `binaryen` into `target/tools/binaryen`; returns the folder
/// holding its `wasm-opt`.
fn ensure_wasm_opt() -> Result<PathBuf, String> {
    let prefix = tools::target_dir().join("tools/binaryen");
    let bin = prefix.join("node_modules/.bin");
    let wanted = BINARYEN_NPM_VERSION.split('.').next().unwrap_or_default();
    if version_output(bin.join("wasm-opt").to_str().unwrap_or_default())
        .is_some_and(|v| v.contains(wanted))
    {
        return Ok(bin);
    }
    step(&format!(
        "npm install binaryen@{BINARYEN_NPM_VERSION} (wasm-opt)"
    ));
    std::fs::create_dir_all(&prefix)
        .map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
    tools::run(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(format!("binaryen@{BINARYEN_NPM_VERSION}")),
    )?;
    Ok(bin)
}

pub fn ensure_web_toolchain() -> Result<PathBuf, String> {
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        step("rustup target add wasm32-unknown-unknown");
        tools::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION, true)?;
    // Its locked dependency set is not on the registry; unlocked resolves.
    ensure_cargo_tool(
        "wasm-bindgen",
        "wasm-bindgen-cli",
        WASM_BINDGEN_VERSION,
        false,
    )?;
    ensure_wasm_opt()
}

/// `trunk build` (release, wasm-opt) into `dist/`, then gzip copies of
/// the wasm and js beside them.
pub fn build() -> Result<(), String> {
    let wasm_opt_dir = ensure_web_toolchain()?;
    step("cargo fetch (Trunk builds offline)");
    tools::run(tools::cargo().args(["fetch", "--target", "wasm32-unknown-unknown"]))?;
    step("trunk build (release)");
    let path = std::env::join_paths(std::iter::once(wasm_opt_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .map_err(|e| format!("bad PATH: {e}"))?;
    tools::run(
        Command::new("trunk")
            .arg("build")
            .env("PATH", path)
            .current_dir(tools::repo_root()),
    )?;
    step("gzip copies of the app's wasm and js");
    for (name, before, after) in gzip_app_files(&tools::repo_root().join("dist"))? {
        println!("{name}: {before} bytes, gzipped {after}");
    }
    Ok(())
}
