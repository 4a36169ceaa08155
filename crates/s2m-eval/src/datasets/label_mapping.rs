//! How each benchmark's label values map onto 0 (inlier) / 1 (anomaly) /
//! 255 (void), REFERENCE.md "Metrics" and each benchmark's own release:
//!
//! | layout | anomaly | void | inlier |
//! |---|---|---|---|
//! | plain folder | the given value (255, white, by default) | an optional given value | the rest |
//! | RoadAnomaly (`labels_semantic.png`) | 2 and above | none | 0, 1 |
//! | SMIYC, Fishyscapes | 1 | 255 (and 2, the RPL/S2M copies' "unlabeled") | 0 |
//! | CamVid-OOD (class indices) | 12 | 11 | 0..10 |

use serde::{Deserialize, Serialize};

use crate::ground_truth::{ANOMALY, INLIER, VOID};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelMapping {
    /// A plain folder's masks: `anomaly` marks anomalies, `void` (if
    /// any) void pixels, every other value is in-distribution.
    Mask { anomaly: u8, void: Option<u8> },
    /// RoadAnomaly: background 0, anomaly 2 (Lis et al.'s loader: >= 2).
    RoadAnomaly,
    /// SMIYC and Fishyscapes: 0 / 1 / 255; 2 is void in the RPL and S2M
    /// copies of Fishyscapes. Any other value is an error.
    Benchmark,
    /// CamVid-OOD's class indices: 12 anomaly, 11 void, 0..=10 inlier;
    /// any other value is an error.
    CamVidOod,
}

impl LabelMapping {
    /// The 0 / 1 / 255 label of raw value `value`, or `None` when the
    /// value cannot occur in this layout.
    pub fn map(self, value: u8) -> Option<u8> {
        match self {
            LabelMapping::Mask { anomaly, void } => Some(if value == anomaly {
                ANOMALY
            } else if Some(value) == void {
                VOID
            } else {
                INLIER
            }),
            LabelMapping::RoadAnomaly => Some(if value >= 2 { ANOMALY } else { INLIER }),
            LabelMapping::Benchmark => match value {
                0 => Some(INLIER),
                1 => Some(ANOMALY),
                2 | 255 => Some(VOID),
                _ => None,
            },
            LabelMapping::CamVidOod => match value {
                12 => Some(ANOMALY),
                11 => Some(VOID),
                0..=10 => Some(INLIER),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layout_maps_its_values() {
        let white = LabelMapping::Mask {
            anomaly: 255,
            void: Some(128),
        };
        assert_eq!(
            [0, 255, 128, 7].map(|v| white.map(v)),
            [Some(0), Some(1), Some(255), Some(0)]
        );
        assert_eq!(
            [0, 1, 2, 3].map(|v| LabelMapping::RoadAnomaly.map(v)),
            [Some(0), Some(0), Some(1), Some(1)]
        );
        assert_eq!(
            [0, 1, 2, 255, 7].map(|v| LabelMapping::Benchmark.map(v)),
            [Some(0), Some(1), Some(255), Some(255), None]
        );
        assert_eq!(
            [0, 10, 11, 12, 13].map(|v| LabelMapping::CamVidOod.map(v)),
            [Some(0), Some(0), Some(255), Some(1), None]
        );
    }
}
