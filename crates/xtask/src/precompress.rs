//! Gzip copies of the built app's large files (`dist/*.wasm`, `*.js`)
//! beside them (`s2m-web_bg.wasm.gz`): a static host serves them with
//! `Content-Encoding: gzip` to browsers that accept it (nginx's
//! `gzip_static on`, or our `static_server`), so a first visit downloads
//! about a quarter of the app's bytes without the host compressing on
//! every request.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

/// Writes `<file>.gz` for every `.wasm` and `.js` file in `dir`; returns
/// (file name, bytes before, bytes after) for each.
pub fn gzip_app_files(dir: &Path) -> Result<Vec<(String, u64, u64)>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(extension, "wasm" | "js") {
            continue;
        }
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder
            .write_all(&bytes)
            .and_then(|()| encoder.finish())
            .and_then(|gzipped| {
                let target = path.with_extension(format!("{extension}.gz"));
                std::fs::write(&target, &gzipped)?;
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                written.push((name, bytes.len() as u64, gzipped.len() as u64));
                Ok(())
            })
            .map_err(|e| format!("cannot gzip {}: {e}", path.display()))?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn wasm_and_js_get_a_gzip_copy_that_decodes_to_them() {
        let dir = std::env::temp_dir().join(format!("s2m-precompress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wasm: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        std::fs::write(dir.join("app_bg.wasm"), &wasm).unwrap();
        std::fs::write(dir.join("app.js"), "export {};").unwrap();
        std::fs::write(dir.join("index.html"), "<html></html>").unwrap();

        let mut written = gzip_app_files(&dir).unwrap();
        written.sort();
        assert_eq!(written.len(), 2, "{written:?}");
        assert_eq!(written[1].0, "app_bg.wasm");
        assert!(written[1].2 < written[1].1 / 10, "{written:?}");
        let mut decoded = Vec::new();
        GzDecoder::new(std::fs::File::open(dir.join("app_bg.wasm.gz")).unwrap())
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, wasm);
        assert!(!dir.join("index.html.gz").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
