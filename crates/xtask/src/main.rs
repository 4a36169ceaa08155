//! `cargo xtask`: the project's entry points.
//!
//! - `cargo xtask test [cargo test args]`: installs what the suite needs
//!   (Mesa's Vulkan driver for wgpu tests on lavapipe; GNU parallel for
//!   the sharded-evaluation recipe's test; the wasm target,
//!   Trunk, wasm-bindgen-cli, Chromium and playwright-core for the browser
//!   tests), fetches and converts the MobileSAM weights, runs every Rust
//!   test with the wgpu tests made mandatory, then the browser tests.
//! - `cargo xtask demo [--port N]`: the same installs, weights, a release
//!   build of the web app, served on localhost.
//! - `cargo xtask weights`: only the weights.
//! - `cargo xtask bench-page`: times the page in headless Chromium (first
//!   load and reload to the first mask, time per frame) into
//!   target/page-timing.json.
//!
//! Each step says what it does; a step whose result is already present is
//! skipped, so a second run costs little.

mod precompress;
mod static_server;
mod tools;
mod web_build;

use std::process::{Command, ExitCode};

use static_server::Mount;
use tools::{repo_root, step};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("demo") => demo(&args[1..]),
        Some("weights") => weights(),
        Some("test-browser") => weights().and_then(|()| browser_tests()),
        Some("bench-page") => bench_page(),
        _ => Err(
            "usage: cargo xtask test [cargo test args...] | test-browser | demo [--port N] | weights | bench-page"
                .to_string(),
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

/// Fetches the official MobileSAM checkpoint (skipped when present and
/// verified) and converts it.
fn weights() -> Result<(), String> {
    weights_with(tools::cargo().args(["run", "--quiet", "-p", "s2m-cli", "--"]))
}

/// Runs `<s2m> weights fetch`, `s2m_command` being how to start `s2m`.
fn weights_with(s2m_command: &mut Command) -> Result<(), String> {
    tools::ensure_python_pip()?;
    step("weights: fetch and convert MobileSAM");
    tools::run(
        s2m_command
            .args(["weights", "fetch", "--dir"])
            .arg(tools::weights_dir()),
    )
}

/// What the page needs from a static host: the app and the weights.
fn app_mounts() -> Vec<Mount> {
    vec![
        Mount {
            prefix: "/",
            dir: repo_root().join("dist"),
            extensions: &[],
        },
        Mount {
            prefix: "/weights/",
            dir: tools::weights_dir(),
            extensions: &["json", "safetensors"],
        },
    ]
}

fn demo(args: &[String]) -> Result<(), String> {
    let port = match args {
        [] => 8080,
        [flag, port] if flag == "--port" => {
            port.parse().map_err(|_| format!("bad port `{port}`"))?
        }
        _ => return Err("usage: cargo xtask demo [--port N]".into()),
    };
    weights()?;
    web_build::build()?;
    let (url, server) = static_server::start(&format!("127.0.0.1:{port}"), app_mounts())?;
    step(&format!(
        "serving the demo at {url} (Ctrl-C to stop); open it in a browser with WebGPU"
    ));
    server.join().map_err(|_| "the server stopped".to_string())
}

fn test(extra: &[String]) -> Result<(), String> {
    tools::ensure_vulkan_driver()?;
    tools::ensure_gnu_parallel()?;
    let cargo_test = || {
        let mut cmd = tools::cargo();
        cmd.args(["test", "--workspace", "--exclude", "s2m-web"])
            .env("S2M_WEIGHTS_DIR", tools::weights_dir())
            .env("S2M_REQUIRE_WGPU", "1");
        cmd
    };
    // Build the tests first and fetch the weights with the `s2m` binary that
    // build made: a separate `cargo run` would resolve other features and
    // compile burn a second time.
    step("build: Rust tests");
    tools::run(cargo_test().arg("--no-run"))?;
    weights_with(&mut Command::new(tools::target_dir().join("debug/s2m")))?;
    step("tests: Rust, whole workspace (wgpu tests on lavapipe required)");
    tools::run(cargo_test().args(extra))?;
    browser_tests()
}

/// Offset of the scene seeds of `s2m synthesize` for the browser test.
const BROWSER_SCENE_SEED: &str = "3";

/// The page in headless Chromium (WebGPU on SwiftShader), driven by
/// playwright-core; screenshots go to target/browser-artifacts.
fn browser_tests() -> Result<(), String> {
    let dir = prepare_browser()?;
    let mut mounts = app_mounts();
    // A synthetic scene (picture, its score map, the objects' mask and
    // boxes) for the whole pipeline in the page.
    let scene = synthesize_scenes("browser-scene", 1, BROWSER_SCENE_SEED)?;
    mounts.push(Mount {
        prefix: "/scene/",
        dir: scene.clone(),
        // The score map is dropped on the page from a fetch of /scene/.
        extensions: &["png", "json", "npy"],
    });
    let (url, _server) = static_server::start("127.0.0.1:0", mounts)?;
    step(&format!("tests: browser, against {url}"));
    let artifacts = tools::target_dir().join("browser-artifacts");
    tools::run(
        Command::new("node")
            .arg(dir.join("s2m_page.test.mjs"))
            .arg(&url)
            .arg(&artifacts)
            .arg(&scene)
            .current_dir(&dir),
    )
}

/// Times the page on three synthetic frames (tests/browser/page_timing.bench.mjs).
fn bench_page() -> Result<(), String> {
    weights()?;
    tools::run(tools::cargo().args(["build", "-p", "s2m-cli"]))?;
    let dir = prepare_browser()?;
    // First load, reload and one further frame: three runs of the SAM
    // encoder, minutes each on a software adapter.
    let scenes = synthesize_scenes("page-timing-scenes", 2, BROWSER_SCENE_SEED)?;
    let (url, _server) = static_server::start("127.0.0.1:0", app_mounts())?;
    step(&format!("bench: the page against {url}"));
    tools::run(
        Command::new("node")
            .arg(dir.join("page_timing.bench.mjs"))
            .arg(&url)
            .arg(&scenes)
            .arg(tools::target_dir().join("page-timing.json"))
            .current_dir(&dir),
    )
}

/// Chromium, playwright-core and a release build of the app; the folder of
/// the browser scripts.
fn prepare_browser() -> Result<std::path::PathBuf, String> {
    tools::ensure_chromium()?;
    let dir = repo_root().join("tests/browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        step("npm ci (playwright-core; it never downloads a browser)");
        tools::run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )?;
    }
    web_build::build()?;
    Ok(dir)
}

/// `count` scenes of `s2m synthesize` (from scene seed offset `seed`) in
/// target/`name`.
fn synthesize_scenes(name: &str, count: usize, seed: &str) -> Result<std::path::PathBuf, String> {
    let scenes = tools::target_dir().join(name);
    tools::run(
        Command::new(tools::target_dir().join("debug/s2m"))
            .args(["synthesize", "--count", &count.to_string(), "--seed", seed])
            .arg("--out")
            .arg(&scenes),
    )?;
    Ok(scenes)
}
