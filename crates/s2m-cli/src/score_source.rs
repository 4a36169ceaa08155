//! Where `s2m segment` gets each image's anomaly score map: the anomaly
//! head on SAM's embedding (the default), a score-map file next to the
//! image, the RPL or PEBAL network, or the feature-novelty scorer on SAM's
//! embedding.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor};
use s2m_core::score_map_file::ScoreMap;
use s2m_core::score_map_file::naming::{SCORE_MAP_EXTENSIONS, SCORE_PNG_SUFFIX};
use s2m_core::scorer::input::image_to_input;
use s2m_core::scorer::{DeepWv3Plus, EmbeddingHead, ScoreFunction};
use s2m_core::weights::load_embedding_head;

use crate::image_input::RgbImage;
use crate::weights_file::load_scorer_file;

/// The `--scorer` the user chose.
#[derive(Debug, Clone, PartialEq)]
pub enum ScorerChoice {
    /// `head` (the shipped `anomaly_head.safetensors` of `--weights-dir`)
    /// or `head=WEIGHTS`: the anomaly head on SAM's embedding.
    Head(Option<PathBuf>),
    /// `file`: `<stem>.npy|.npz|.pfm|.tif|.tiff` or `<stem>.score.png`
    /// beside each image (or in `--score-maps DIR`).
    File,
    /// `rpl=WEIGHTS`
    Rpl(PathBuf),
    /// `pebal=WEIGHTS`
    Pebal(PathBuf),
    /// `novelty`
    Novelty,
}

impl FromStr for ScorerChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            None if text == "file" => Ok(Self::File),
            None if text == "novelty" => Ok(Self::Novelty),
            None if text == "head" => Ok(Self::Head(None)),
            Some(("head", path)) if !path.is_empty() => Ok(Self::Head(Some(path.into()))),
            Some(("rpl", path)) if !path.is_empty() => Ok(Self::Rpl(path.into())),
            Some(("pebal", path)) if !path.is_empty() => Ok(Self::Pebal(path.into())),
            _ => Err(format!(
                "`{text}`: expected head, head=WEIGHTS, file, novelty, rpl=WEIGHTS or pebal=WEIGHTS"
            )),
        }
    }
}

/// As the user writes it on the command line.
impl std::fmt::Display for ScorerChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Head(None) => f.write_str("head"),
            Self::Head(Some(path)) => write!(f, "head={}", path.display()),
            Self::File => f.write_str("file"),
            Self::Novelty => f.write_str("novelty"),
            Self::Rpl(path) => write!(f, "rpl={}", path.display()),
            Self::Pebal(path) => write!(f, "pebal={}", path.display()),
        }
    }
}

/// The scorer a command runs: the one named, else `file` when score maps
/// were given (`--score-map`, `--score-maps`), else the anomaly head.
pub fn resolve_scorer(named: Option<&ScorerChoice>, maps_given: bool) -> ScorerChoice {
    match (named, maps_given) {
        (Some(choice), _) => choice.clone(),
        (None, true) => ScorerChoice::File,
        (None, false) => ScorerChoice::Head(None),
    }
}

/// The shipped anomaly head's file name in the weights folder.
pub const HEAD_FILE: &str = "anomaly_head.safetensors";

/// The anomaly head the user chose (`None` for other scorers): the
/// shipped one is checked against the weights folder's manifest.
pub fn load_head(
    choice: &ScorerChoice,
    weights_dir: &Path,
    device: &Device,
) -> Result<Option<EmbeddingHead>> {
    let ScorerChoice::Head(named) = choice else {
        return Ok(None);
    };
    let path = named.clone().unwrap_or_else(|| weights_dir.join(HEAD_FILE));
    let bytes = crate::input_files::read_regular_file(&path).with_context(|| {
        format!(
            "cannot read the anomaly head's weights (`s2m weights fetch` puts ours in {})",
            weights_dir.display()
        )
    })?;
    crate::weights_file::verify_if_listed(&path, &bytes)?;
    Ok(Some(load_embedding_head(
        bytes,
        &path.display().to_string(),
        device,
    )?))
}

/// The RPL or PEBAL network, checked to be the one the user named.
pub fn load_network(choice: &ScorerChoice, device: &Device) -> Result<Option<DeepWv3Plus>> {
    let (path, rpl) = match choice {
        ScorerChoice::Rpl(path) => (path, true),
        ScorerChoice::Pebal(path) => (path, false),
        ScorerChoice::File | ScorerChoice::Novelty | ScorerChoice::Head(_) => return Ok(None),
    };
    let network = load_scorer_file(path, device)?;
    let has_rpl_block = network.config.residual_channels.is_some();
    if rpl != has_rpl_block {
        bail!(
            "{} holds {} weights, not {}",
            path.display(),
            if has_rpl_block { "RPL" } else { "PEBAL" },
            if rpl { "RPL's" } else { "PEBAL's" },
        );
    }
    Ok(Some(network))
}

/// The energy score map of `image` by `network` (REFERENCE.md: energy at
/// temperature 1, then the Gaussian blur).
pub fn network_score_map(network: &DeepWv3Plus, image: &RgbImage, device: &Device) -> Tensor<2> {
    let input = image_to_input(&image.pixels, image.height, image.width, device);
    network.score_map(input, ScoreFunction::default())
}

/// The score-map file of `image`: in `folder` (the image's own folder when
/// `None`), named after the image's stem.
pub fn score_map_file(image: &Path, folder: Option<&Path>) -> Result<PathBuf> {
    let stem = image
        .file_stem()
        .with_context(|| format!("{} has no file name", image.display()))?
        .to_string_lossy();
    let folder = folder
        .or_else(|| image.parent())
        .unwrap_or_else(|| Path::new("."));
    let candidates = SCORE_MAP_EXTENSIONS
        .iter()
        .map(|ext| folder.join(format!("{stem}.{ext}")))
        .chain([folder.join(format!("{stem}{SCORE_PNG_SUFFIX}"))]);
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no score map for {} in {} (expected {stem}.npy, .npz, .pfm, .tif, .tiff or {stem}.score.png)",
        image.display(),
        folder.display()
    )
}

/// The score map in the file at `path`, which must cover `image` pixel for
/// pixel.
pub fn read_score_map(path: &Path, image: &RgbImage, device: &Device) -> Result<Tensor<2>> {
    let bytes = crate::input_files::read_regular_file(path)?;
    let map = ScoreMap::from_bytes(&bytes, &path.display().to_string())?;
    map.expect_size(image.height, image.width)
        .with_context(|| format!("{} does not fit its image", path.display()))?;
    Ok(map.into_tensor(device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scorer_choices_parse() {
        assert_eq!("head".parse(), Ok(ScorerChoice::Head(None)));
        assert_eq!(
            "head=h.safetensors".parse(),
            Ok(ScorerChoice::Head(Some("h.safetensors".into())))
        );
        assert_eq!("file".parse(), Ok(ScorerChoice::File));
        assert_eq!("novelty".parse(), Ok(ScorerChoice::Novelty));
        assert_eq!(
            "rpl=w/rpl.pth".parse(),
            Ok(ScorerChoice::Rpl("w/rpl.pth".into()))
        );
        assert_eq!(
            "pebal=p.safetensors".parse(),
            Ok(ScorerChoice::Pebal("p.safetensors".into()))
        );
        for bad in ["rpl", "rpl=", "energy", "sml=x", "head="] {
            assert!(bad.parse::<ScorerChoice>().is_err(), "{bad}");
        }
    }
}
