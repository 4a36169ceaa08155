//! The images a command works on, from what the user typed: files, folders
//! (their images, not recursive) and glob patterns (`"frames/*.png"`, for
//! shells that pass them unexpanded), sorted and without repeats.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Extensions of the images a folder contributes.
const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "webp", "bmp"];

pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Fails unless `path` is a regular file (after symlinks): a FIFO, a
/// device or a folder given as an input would block or fail obscurely.
pub fn require_regular_file(path: &Path) -> Result<()> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !metadata.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    Ok(())
}

/// The bytes of the regular file at `path`.
pub fn read_regular_file(path: &Path) -> Result<Vec<u8>> {
    require_regular_file(path)?;
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The image files named by `inputs`; an input that names nothing is an
/// error (a typo should not pass silently).
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = BTreeSet::new();
    for input in inputs {
        let named: Vec<PathBuf> = if input.is_dir() {
            let mut images = Vec::new();
            for entry in std::fs::read_dir(input)? {
                let path = entry?.path();
                if path.is_file() && is_image(&path) {
                    images.push(path);
                }
            }
            images
        } else if input.exists() {
            vec![input.clone()]
        } else {
            glob::glob(&input.to_string_lossy())
                .map(|paths| paths.flatten().filter(|p| p.is_file()).collect())
                .unwrap_or_default()
        };
        if named.is_empty() && !input.is_dir() {
            bail!("{} names no file", input.display());
        }
        files.extend(named);
    }
    if files.is_empty() {
        bail!("no images found in {inputs:?}");
    }
    Ok(files.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_globs_and_files_expand_sorted_without_repeats() {
        let dir = std::env::temp_dir().join(format!("s2m-inputs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.png", "a.JPG", "notes.txt", "sub/c.png"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let files = expand(&[dir.clone(), dir.join("*.png")]).unwrap();
        assert_eq!(files, vec![dir.join("a.JPG"), dir.join("b.png")]);
        let one = expand(&[dir.join("sub/c.png")]).unwrap();
        assert_eq!(one, vec![dir.join("sub/c.png")]);
        assert!(expand(&[dir.join("missing.png")]).is_err());
        assert!(expand(&[dir.join("*.jpeg")]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
