//! Where each benchmark keeps its frames and labels (module docs of
//! [`super`]); [`list`] turns a folder into a [`Dataset`].

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::label_mapping::LabelMapping;
use super::{Dataset, DatasetError, Sample, Skipped};

/// Image files a dataset's frames may be.
const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// Suffixes of files beside a plain folder's images that are not frames.
const NOT_FRAMES: [&str; 3] = [".mask.png", ".label.png", ".score.png"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Detected from the sub-folders present.
    Auto,
    /// A plain folder; `anomaly` / `void`: the mask values meaning so.
    Folder {
        anomaly: u8,
        void: Option<u8>,
    },
    RoadAnomaly,
    Smiyc,
    Fishyscapes,
    CamVidOod,
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "auto" => Layout::Auto,
            "folder" => Layout::Folder {
                anomaly: 255,
                void: None,
            },
            "road-anomaly" => Layout::RoadAnomaly,
            "smiyc" => Layout::Smiyc,
            "fishyscapes" => Layout::Fishyscapes,
            "camvid-ood" => Layout::CamVidOod,
            _ => {
                return Err(format!(
                    "`{text}`: expected auto, folder, road-anomaly, smiyc, fishyscapes or camvid-ood"
                ));
            }
        })
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layout::Auto => write!(f, "detected layout"),
            Layout::Folder {
                anomaly,
                void: None,
            } => write!(f, "plain folder, anomaly = {anomaly}"),
            Layout::Folder {
                anomaly,
                void: Some(void),
            } => write!(f, "plain folder, anomaly = {anomaly}, void = {void}"),
            Layout::RoadAnomaly => write!(f, "RoadAnomaly"),
            Layout::Smiyc => write!(f, "SMIYC"),
            Layout::Fishyscapes => write!(f, "Fishyscapes"),
            Layout::CamVidOod => write!(f, "CamVid-OOD"),
        }
    }
}

impl Layout {
    /// The layout of the folder at `root`, by the sub-folders it has.
    pub fn detect(root: &Path) -> Layout {
        let has = |name: &str| root.join(name).is_dir();
        if has("frames") {
            Layout::RoadAnomaly
        } else if has("labels_masks") {
            Layout::Smiyc
        } else if has("testannot_ood") {
            Layout::CamVidOod
        } else if has("original") && has("labels") {
            Layout::Fishyscapes
        } else {
            Layout::Folder {
                anomaly: 255,
                void: None,
            }
        }
    }
}

/// The image files in `dir`, sorted by name.
fn images_in(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DatasetError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut images: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let image = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()));
            image && !NOT_FRAMES.iter().any(|s| name.ends_with(s))
        })
        .collect();
    images.sort();
    Ok(images)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Lists the frames of `root` laid out as `layout`.
pub fn list(root: &Path, layout: Layout) -> Result<Dataset, DatasetError> {
    if !root.is_dir() {
        return Err(DatasetError::Layout {
            path: root.to_path_buf(),
            message: "not a folder".into(),
        });
    }
    let layout = if layout == Layout::Auto {
        Layout::detect(root)
    } else {
        layout
    };
    // The folder of the frames, each frame's candidate label files, and
    // how labels map.
    type Candidates = Box<dyn Fn(&Path) -> Vec<PathBuf>>;
    let (frames_dir, candidates, mapping): (PathBuf, Candidates, LabelMapping) = match layout {
        Layout::Auto => unreachable!("detected above"),
        Layout::Folder { anomaly, void } => {
            let images = root.join("images");
            let frames_dir = if images.is_dir() {
                images
            } else {
                root.to_path_buf()
            };
            let root = root.to_path_buf();
            (
                frames_dir,
                Box::new(move |image: &Path| {
                    let dir = image.parent().unwrap_or(Path::new("."));
                    let s = stem(image);
                    vec![
                        dir.join(format!("{s}.mask.png")),
                        dir.join(format!("{s}.label.png")),
                        root.join("labels").join(format!("{s}.png")),
                        root.join("masks").join(format!("{s}.png")),
                    ]
                }),
                LabelMapping::Mask { anomaly, void },
            )
        }
        Layout::RoadAnomaly => (
            root.join("frames"),
            Box::new(|image: &Path| {
                let dir = image.parent().unwrap_or(Path::new("."));
                vec![
                    dir.join(format!("{}.labels", stem(image)))
                        .join("labels_semantic.png"),
                ]
            }),
            LabelMapping::RoadAnomaly,
        ),
        Layout::Smiyc => {
            let labels = root.join("labels_masks");
            (
                root.join("images"),
                Box::new(move |image: &Path| {
                    vec![labels.join(format!("{}_labels_semantic.png", stem(image)))]
                }),
                LabelMapping::Benchmark,
            )
        }
        Layout::Fishyscapes => {
            let labels = root.join("labels");
            (
                root.join("original"),
                Box::new(move |image: &Path| {
                    let name = image.file_name().map(PathBuf::from).unwrap_or_default();
                    vec![
                        labels.join(&name),
                        labels.join(format!("{}.png", stem(image))),
                    ]
                }),
                LabelMapping::Benchmark,
            )
        }
        Layout::CamVidOod => {
            let labels = root.join("testannot_ood");
            (
                root.join("test_ood"),
                Box::new(move |image: &Path| {
                    let name = image.file_name().map(PathBuf::from).unwrap_or_default();
                    vec![labels.join(name)]
                }),
                LabelMapping::CamVidOod,
            )
        }
    };
    if !frames_dir.is_dir() {
        return Err(DatasetError::Layout {
            path: frames_dir,
            message: format!("missing: the {layout} layout keeps its frames there"),
        });
    }
    let mut samples = Vec::new();
    let mut skipped = Vec::new();
    for image in images_in(&frames_dir)? {
        let tried = candidates(&image);
        match tried.iter().find(|p| p.is_file()) {
            Some(labels) => samples.push(Sample {
                name: image
                    .strip_prefix(root)
                    .unwrap_or(&image)
                    .to_string_lossy()
                    .into_owned(),
                image,
                labels: labels.clone(),
                mapping,
            }),
            None => skipped.push(Skipped {
                reason: format!(
                    "no label image (looked for {})",
                    tried
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                path: image,
            }),
        }
    }
    if samples.is_empty() {
        return Err(DatasetError::Layout {
            path: root.to_path_buf(),
            message: format!(
                "no frame with a label image in the {layout} layout ({} without)",
                skipped.len()
            ),
        });
    }
    Ok(Dataset {
        layout,
        samples,
        skipped,
    })
}
