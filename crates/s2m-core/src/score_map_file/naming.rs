//! How score-map files are named next to their images (the CLI's
//! `s2m segment --scorer file` and the web page's dropped files follow the
//! same rule): `<image stem>.npy|.npz|.pfm|.tif|.tiff` or
//! `<image stem>.score.png` (a plain `.png` is an image).

/// Extensions that always mean a score map (a 16-bit PNG map is
/// `<stem>.score.png`).
pub const SCORE_MAP_EXTENSIONS: [&str; 5] = ["npy", "npz", "pfm", "tif", "tiff"];

/// Suffix of a score map stored as a 16-bit PNG.
pub const SCORE_PNG_SUFFIX: &str = ".score.png";

/// The image stem a score-map file name belongs to (`scene-001` for
/// `scene-001.npy` or `scene-001.score.png`), or `None` when the name is
/// not a score map's. Extensions match in any case.
pub fn score_map_stem(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(SCORE_PNG_SUFFIX) {
        return Some(&name[..name.len() - SCORE_PNG_SUFFIX.len()]);
    }
    let (stem, extension) = name.rsplit_once('.')?;
    SCORE_MAP_EXTENSIONS
        .iter()
        .any(|e| e.eq_ignore_ascii_case(extension))
        .then_some(stem)
}

/// The stem of an image file name: the name without its last extension.
pub fn image_stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}

/// The index in `map_names` of the score map that belongs to the image
/// named `image_name`, if any.
pub fn score_map_for<S: AsRef<str>>(image_name: &str, map_names: &[S]) -> Option<usize> {
    let stem = image_stem(image_name);
    map_names
        .iter()
        .position(|name| score_map_stem(name.as_ref()) == Some(stem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_maps_are_told_from_images_by_name() {
        assert_eq!(score_map_stem("scene-001.npy"), Some("scene-001"));
        assert_eq!(score_map_stem("a.b.NPZ"), Some("a.b"));
        assert_eq!(score_map_stem("frame.Score.PNG"), Some("frame"));
        assert_eq!(score_map_stem("frame.tiff"), Some("frame"));
        assert_eq!(score_map_stem("frame.png"), None);
        assert_eq!(score_map_stem("frame.jpg"), None);
        assert_eq!(score_map_stem("npy"), None);
    }

    #[test]
    fn each_image_finds_the_map_of_its_own_stem() {
        let maps = ["b.score.png", "a.npy", "a.b.npy"];
        assert_eq!(score_map_for("a.png", &maps), Some(1));
        assert_eq!(score_map_for("b.jpg", &maps), Some(0));
        assert_eq!(score_map_for("a.b.webp", &maps), Some(2));
        assert_eq!(score_map_for("c.png", &maps), None);
        // The stem is the whole name before the last dot, not a prefix.
        assert_eq!(score_map_for("a.b.c.png", &maps), None);
    }
}
