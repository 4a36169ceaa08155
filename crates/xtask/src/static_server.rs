//! The static file server of the demo and the browser tests: the built app
//! at `/`, the converted weights at `/weights/`, and (for tests) the
//! fixtures at `/fixtures/`. A real host needs nothing more than this:
//! static files, `application/wasm` for `.wasm`, and (optionally) the
//! gzip copy of a file for browsers that accept gzip.

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

/// The gzip copy of `path` (`precompress.rs`), if there is one.
fn gzip_copy(path: &Path) -> Option<PathBuf> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".gz");
    let copy = path.with_file_name(name);
    copy.is_file().then_some(copy)
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
            let accepts_gzip = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("Accept-Encoding") && h.value.as_str().contains("gzip"));
            let response = match resolve(&mounts, request.url()) {
                Some(path) => {
                    let header = Header::from_bytes("Content-Type", content_type(&path))
                        .expect("valid header");
                    let gzipped = accepts_gzip
                        .then(|| gzip_copy(&path))
                        .flatten()
                        .and_then(|p| std::fs::File::open(p).ok());
                    match (gzipped, std::fs::File::open(&path)) {
                        (Some(file), _) => {
                            let encoding = Header::from_bytes("Content-Encoding", "gzip")
                                .expect("valid header");
                            request.respond(
                                Response::from_file(file)
                                    .with_header(header)
                                    .with_header(encoding),
                            )
                        }
                        (None, Ok(file)) => {
                            request.respond(Response::from_file(file).with_header(header))
                        }
                        (None, Err(_)) => request
                            .respond(Response::from_string("not found").with_status_code(404)),
                    }
                }
                None => request.respond(Response::from_string("not found").with_status_code(404)),
            };
            let _ = response;
        }
    });
    Ok((url, handle))
}
