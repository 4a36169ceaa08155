//! Weights files listed in the manifest: taken from Cache Storage when a
//! verified copy is there (a reload works offline), else downloaded with
//! byte-accurate progress; either way verified against the manifest's size
//! and sha256 before use, and a downloaded file is cached once verified.
//! A cached copy that fails verification (damaged, or the manifest moved
//! on to new weights under the same name) is dropped and downloaded again.

use js_sys::{Reflect, Uint8Array};
use s2m_weights::{Manifest, ManifestEntry, integrity};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, ReadableStreamDefaultReader, Response};

/// The Cache Storage cache of verified weights files, keyed by URL.
const CACHE_NAME: &str = "s2m-weights";

/// Where a weights file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsSource {
    Cache,
    Network,
}

fn js_error(context: &str, value: JsValue) -> String {
    let detail = value
        .as_string()
        .or_else(|| js_sys::Error::from(value).message().as_string())
        .unwrap_or_default();
    format!("{context}: {detail}")
}

async fn fetch_response(url: &str) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| js_error(&format!("cannot fetch {url}"), e))?
        .dyn_into()
        .map_err(|_| format!("{url}: not a response"))?;
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    Ok(response)
}

pub async fn fetch_manifest(base: &str) -> Result<Manifest, String> {
    let url = format!("{base}/manifest.json");
    let response = fetch_response(&url).await?;
    let text = JsFuture::from(response.text().map_err(|e| js_error(&url, e))?)
        .await
        .map_err(|e| js_error(&url, e))?
        .as_string()
        .unwrap_or_default();
    Manifest::from_json(&url, &text).map_err(|e| e.to_string())
}

/// The verified bytes of `entry` under `base`, from the cache or streamed
/// from the network, calling `progress(received, total)` as bytes arrive.
pub async fn fetch_verified(
    base: &str,
    entry: &ManifestEntry,
    progress: impl Fn(u64, u64),
) -> Result<(Vec<u8>, WeightsSource), String> {
    let url = format!("{base}/{}", entry.name);
    let cache = open_cache().await;
    if let Some(cache) = &cache {
        if let Some(bytes) = cached_bytes(cache, &url).await {
            if verify(entry, &bytes).is_ok() {
                progress(entry.size, entry.size);
                return Ok((bytes, WeightsSource::Cache));
            }
            let _ = JsFuture::from(cache.delete_with_str(&url)).await;
        }
    }
    let bytes = download(&url, entry, progress).await?;
    verify(entry, &bytes)?;
    if let Some(cache) = &cache {
        store(cache, &url, &bytes).await;
    }
    Ok((bytes, WeightsSource::Network))
}

fn verify(entry: &ManifestEntry, bytes: &[u8]) -> Result<(), String> {
    integrity::verify(&entry.name, bytes, entry.size, &entry.sha256).map_err(|e| e.to_string())
}

/// The weights cache, or `None` where the page has no Cache Storage (an
/// insecure context, a private window that refuses it): files are then
/// downloaded on every load.
async fn open_cache() -> Option<Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

async fn cached_bytes(cache: &Cache, url: &str) -> Option<Vec<u8>> {
    let response: Response = JsFuture::from(cache.match_with_str(url))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

/// Keeps a verified file for the next load; a full quota only costs that.
async fn store(cache: &Cache, url: &str, bytes: &[u8]) {
    let body = Uint8Array::from(bytes);
    let stored = match Response::new_with_opt_buffer_source(Some(&body)) {
        Ok(response) => JsFuture::from(cache.put_with_str(url, &response))
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        web_sys::console::warn_1(&js_error(&format!("cannot cache {url}"), e).into());
    }
}

/// Streams `url`, calling `progress(received, total)` as bytes arrive.
async fn download(
    url: &str,
    entry: &ManifestEntry,
    progress: impl Fn(u64, u64),
) -> Result<Vec<u8>, String> {
    let response = fetch_response(url).await?;
    let body = response
        .body()
        .ok_or_else(|| format!("{url}: empty body"))?;
    let reader: ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| format!("{url}: no stream reader"))?;
    let mut bytes = Vec::with_capacity(entry.size as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| js_error(&format!("download of {url} interrupted"), e))?;
        let done = Reflect::get(&chunk, &"done".into())
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| js_error(url, e))?;
        bytes.extend(Uint8Array::new(&value).to_vec());
        progress(bytes.len() as u64, entry.size);
    }
    Ok(bytes)
}
