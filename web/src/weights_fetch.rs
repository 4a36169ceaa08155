//! Downloading weights files listed in the manifest, with byte-accurate
//! progress, verified against the manifest's size and sha256.

use js_sys::{Reflect, Uint8Array};
use s2m_weights::{Manifest, ManifestEntry, integrity};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

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

/// Streams `entry` from `base`, calling `progress(received, total)` as
/// bytes arrive, and returns the verified bytes.
pub async fn fetch_verified(
    base: &str,
    entry: &ManifestEntry,
    progress: impl Fn(u64, u64),
) -> Result<Vec<u8>, String> {
    let url = format!("{base}/{}", entry.name);
    let response = fetch_response(&url).await?;
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
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| js_error(&url, e))?;
        bytes.extend(Uint8Array::new(&value).to_vec());
        progress(bytes.len() as u64, entry.size);
    }
    integrity::verify(&entry.name, &bytes, entry.size, &entry.sha256).map_err(|e| e.to_string())?;
    Ok(bytes)
}
