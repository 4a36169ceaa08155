//! The static file server of the demo and the browser tests: the built app
//! at `/`, the converted weights at `/weights/`, and (for tests) the
//! fixtures at `/fixtures/`. A real host needs nothing more than this:
//! static files, `application/wasm` for `.wasm`.

use std::path::{Component, Path, PathBuf};
use std::thread::JoinHandle;

use tiny_http::{Header, Response, Server};

/// A URL prefix and the directory it serves, with the file extensions that
/// may be served from it.
pub struct Mount {
    pub prefix: &'static str,
    pub dir: PathBuf,
    pub extensions: &'static [&'static str],
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript",
        "wasm" => "application/wasm",
        "css" => "text/css",
        "json" => "application/json",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

fn resolve(mounts: &[Mount], url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let mount = mounts
        .iter()
        .filter(|m| path.starts_with(m.prefix))
        .max_by_key(|m| m.prefix.len())?;
    let relative = match &path[mount.prefix.len()..] {
        "" => "index.html",
        rest => rest,
    };
    let relative = Path::new(relative);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let ext = relative.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !mount.extensions.is_empty() && !mount.extensions.contains(&ext) {
        return None;
    }
    let file = mount.dir.join(relative);
    file.is_file().then_some(file)
}

/// Starts serving on `address` (port 0 picks a free one) in a background
/// thread; returns the base URL.
pub fn start(address: &str, mounts: Vec<Mount>) -> Result<(String, JoinHandle<()>), String> {
    let server = Server::http(address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("the server has no IP address")?;
    let url = format!("http://{addr}/");
    let handle = std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let response = match resolve(&mounts, request.url())
                .and_then(|p| std::fs::File::open(&p).ok().map(|f| (p, f)))
            {
                Some((path, file)) => {
                    let header = Header::from_bytes("Content-Type", content_type(&path))
                        .expect("valid header");
                    request.respond(Response::from_file(file).with_header(header))
                }
                None => request.respond(Response::from_string("not found").with_status_code(404)),
            };
            let _ = response;
        }
    });
    Ok((url, handle))
}
