//! A training-free anomaly scorer: feature novelty on SAM's image embedding.
//!
//! Follows the idea of PatchCore (Roth et al., "Towards Total Recall in
//! Industrial Anomaly Detection", CVPR 2022, <https://arxiv.org/abs/2106.08265>):
//! a location is anomalous when its frozen feature lies far from every
//! feature of a memory bank of normal images. Here the features are the
//! cells of SAM's image embedding (`[1, 256, 64, 64]`, one cell per 16x16
//! pixels of the 1024-pixel input), which the pipeline computes for the masks
//! anyway, so the scorer costs a few matrix products. Deviations from
//! PatchCore: no local neighbourhood pooling and no coreset subsampling (a
//! drive's bank is a few frames of at most 4096 cells each), cosine instead
//! of Euclidean distance, and a lone-frame mode.
//!
//! - **With a [`ReferenceBank`]** (other frames of the same drive,
//!   leave-one-out over the uploaded frames, or frames the user marks as
//!   normal), each cell scores its cosine distance `1 - cos` to the nearest
//!   bank cell.
//! - **Without a bank** (a lone frame), each cell scores its rarity within
//!   the frame: the distance to its k-th nearest cell of the same frame,
//!   cells within [`NoveltyConfig::exclusion_radius`] of it left out (they
//!   share its receptive field and so resemble it whatever it shows). A
//!   region of fewer than k cells that looks like nothing else in the frame
//!   has no k close cells, so it scores high; a road or a sky has thousands.
//!
//! Distances become an energy-like score (the range the prompt generator
//! reads, see [`Calibration`]) and the cell grid is upsampled bilinearly to
//! the image, as SAM's masks are (`sam::transforms::postprocess_masks`).
//!
//! Where it works: objects whose appearance differs from everything else in
//! the bank (or in the frame) and that cover at least a few 16-pixel cells
//! of the 1024-pixel input (an object of 40x40 input pixels covers about
//! 6 cells). Where it does not:
//! - objects smaller than about one cell (16 px at the 1024-pixel input,
//!   8 px of a 512-wide frame) are averaged away by the encoder;
//! - in the lone-frame mode, objects repeated in the frame or covering more
//!   than about k cells (a large object, one close to the camera) are not
//!   rare, and a rare but normal thing (a single sign, a lone car, a
//!   crossing's stripes) is; the bank mode has the second problem for
//!   anything absent from the bank;
//! - with a bank, anything that changed between the frames (another road
//!   surface, lighting, a car that appeared) is novel; the bank must come
//!   from the same drive and similar scenes;
//! - it is not the paper's scorer (RPL+CoroCL on a Cityscapes-trained
//!   segmentation network): the published numbers do not apply, and what
//!   counts as "anomalous" is "unlike the reference", not "not one of the
//!   19 Cityscapes classes".

use burn::tensor::ops::PadMode;
use burn::tensor::{Int, Tensor};

use crate::pipeline::ImageEmbedding;
use crate::sam::transforms::{ImageFrame, bilinear};

/// Pixels of the SAM input per embedding cell (the encoder's stride).
pub const CELL_SIZE: usize = 16;

/// Elements of the largest intermediate tensor (a block of the distance
/// matrix): 64 MiB of f32, half of WebGPU's default 128 MiB binding limit.
const MAX_BLOCK_ELEMENTS: usize = 16 << 20;

/// The cosine distance of two unit vectors pointing in opposite directions:
/// the largest possible, given to the cells a lone-frame search leaves out.
const FARTHEST: f32 = 2.0;

/// An affine map from cosine distance to the energy-like score the prompt
/// generator reads: `score = offset + gain * distance`.
///
/// The generator we ship (`s2m-train`'s `small_generator_config`)
/// normalises its input with mean -8 and std 5 and was trained on maps whose
/// inlier background lies near -16..-8 and whose anomalies lie near -4..5.
/// The defaults map a typical inlier distance to about -12 and the lowest
/// distance of a clearly novel cell to about -4, measured with MobileSAM on
/// the procedural drive of `tests/novelty_scorer.rs` (512x288 frames, a
/// 52x44-pixel crate) and the repository's `road_1024x576.png`:
/// - bank (two object-free frames of the drive): inlier cells median 0.005,
///   99th percentile 0.12..0.16, largest 0.34; object cells from 0.35,
///   median 0.47. `-12.5 + 28 d`: 0.005 -> -12.4, 0.16 -> -8.0,
///   0.3 -> -4.1, 0.47 -> +0.7;
/// - lone frame (k = 3 % of the cells, radius 2): inlier cells median 0.04,
///   but 90th percentile 0.42 and 99th 0.69 (lane marks, the tree line,
///   the image corners); object cells from 0.64, median 0.72.
///   `-12.5 + 14 d`: 0.04 -> -11.9, 0.42 -> -6.6, 0.6 -> -4.1,
///   0.72 -> -2.4.
///
/// Synthetic frames differ less from one another than a real drive's do,
/// so on real footage inlier distances to the bank will run higher; no real
/// driving frames were available to check these numbers (one real photo, a
/// uniform brushed-metal texture at 1024x682, scores median -12.3, 99th
/// percentile -9.5, at most -8.5 in the lone-frame mode).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub offset: f32,
    pub gain: f32,
}

impl Calibration {
    /// The score of a cosine distance.
    pub fn score(&self, distance: f32) -> f32 {
        self.offset + self.gain * distance
    }
}

/// Every knob of the novelty scorer.
#[derive(Debug, Clone, PartialEq)]
pub struct NoveltyConfig {
    /// Lone frame: k of the k-th nearest neighbour, as a fraction of the
    /// frame's cells (rounded, at least 1). A region that looks like nothing
    /// else and covers fewer cells than k (minus the cells of the exclusion
    /// window) is rare; a larger one is not. 0.03 of a 16:9 frame
    /// (36x64 cells) is 69 cells, e.g. a 130x130-pixel object at the
    /// 1024-pixel input.
    pub lone_k_fraction: f32,
    /// Lone frame: cells within this Chebyshev distance (in cells) of a cell
    /// are not its neighbours. Their receptive fields overlap its own, so
    /// even an anomalous cell resembles them.
    pub exclusion_radius: usize,
    /// Distance to the nearest bank cell -> score.
    pub bank_calibration: Calibration,
    /// Lone-frame k-th-neighbour distance -> score. Its distances run higher
    /// than the bank's (the k-th neighbour, not the first), so it has its own
    /// map.
    pub lone_calibration: Calibration,
}

impl Default for NoveltyConfig {
    fn default() -> Self {
        Self {
            lone_k_fraction: 0.03,
            exclusion_radius: 2,
            bank_calibration: Calibration {
                offset: -12.5,
                gain: 28.0,
            },
            lone_calibration: Calibration {
                offset: -12.5,
                gain: 14.0,
            },
        }
    }
}

/// The cells of one frame's embedding that show the image.
#[derive(Debug, Clone)]
pub struct FrameCells {
    /// `[rows * cols, C]`, row-major over the grid, each row of unit length.
    pub features: Tensor<2>,
    /// `(rows, cols)`: the cells lying wholly on the resized image.
    pub grid: (usize, usize),
}

/// The L2-normalised embedding vectors of the cells of `embedding`
/// (`[1, C, 64, 64]`) that lie wholly on the image, not on SAM's padding.
///
/// A cell partly over the padding is left out (at least one row and one
/// column are kept, for images under 16 input pixels on a side): its
/// feature sees the padding, and on a real 1024x682 photo of a uniform
/// texture such a last row was as rare (distance 0.4) as a pasted object.
/// [`novelty_map`] repeats the last whole row and column over it.
pub fn frame_cells(embedding: &Tensor<4>, frame: &ImageFrame) -> FrameCells {
    let [_, channels, grid_h, grid_w] = embedding.dims();
    let rows = (frame.resized.0 / CELL_SIZE).clamp(1, grid_h);
    let cols = (frame.resized.1 / CELL_SIZE).clamp(1, grid_w);
    let features = embedding
        .clone()
        .slice([0..1, 0..channels, 0..rows, 0..cols])
        .reshape([channels, rows * cols])
        .transpose();
    let norm = features
        .clone()
        .powi_scalar(2)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    FrameCells {
        features: features / norm,
        grid: (rows, cols),
    }
}

/// Normal cells to compare against: the cells of several frames, kept one
/// tensor per frame (so no tensor outgrows the binding limit however many
/// frames there are, and a frame can be left out).
#[derive(Debug, Clone, Default)]
pub struct ReferenceBank {
    frames: Vec<Tensor<2>>,
}

impl ReferenceBank {
    pub fn new() -> Self {
        Self::default()
    }

    /// A bank of the cells of `frames`.
    pub fn from_frames(frames: impl IntoIterator<Item = FrameCells>) -> Self {
        let mut bank = Self::new();
        for cells in frames {
            bank.push(cells);
        }
        bank
    }

    /// Adds one frame's cells.
    pub fn push(&mut self, cells: FrameCells) {
        self.frames.push(cells.features);
    }

    /// Frames in the bank.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The bank without frame `index` (leave-one-out: scoring an uploaded
    /// frame against the others). Shares the tensors, copies nothing.
    pub fn without(&self, index: usize) -> Self {
        let frames = self
            .frames
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, f)| f.clone())
            .collect();
        Self { frames }
    }

    /// `[N]`: the cosine distance of each row of `cells` (`[N, C]`, unit
    /// rows) to its nearest bank cell; 2 (the farthest) for an empty bank.
    pub fn nearest_distance(&self, cells: &Tensor<2>) -> Tensor<1> {
        let [n, _] = cells.dims();
        let mut best: Tensor<2> = Tensor::full([n, 1], -1.0, &cells.device());
        for frame in &self.frames {
            let [m, _] = frame.dims();
            let block = (MAX_BLOCK_ELEMENTS / n.max(1)).max(1);
            for start in (0..m).step_by(block) {
                let keys = frame.clone().narrow(0, start, block.min(m - start));
                let similarity = cells.clone().matmul(keys.transpose()).max_dim(1);
                best = best.max_pair(similarity);
            }
        }
        (best.neg() + 1.0).reshape([n])
    }
}

/// Halvings of the bisection that finds the k-th smallest distance: the
/// result is within `FARTHEST / 2^BISECTIONS` (2e-6) above the exact value.
const BISECTIONS: usize = 20;

/// `[N]`: for each cell of `cells`, the cosine distance to its `k`-th
/// nearest cell of the same frame, the cells within `exclusion_radius`
/// (Chebyshev, in cells) left out. `k` is clamped to the cells that remain
/// for every cell; where none remain the distance is 2 (the farthest).
///
/// The k-th smallest distance of each row is found by bisection on the
/// distance (the least `t` with at least `k` distances `<= t`), with
/// comparisons and sums only: burn's `topk` on the wgpu backend (0.22.1,
/// lavapipe) returned `f32::MAX` for some rows at k >= 64, and sorting on
/// the device would cost more.
pub fn kth_neighbour_distance(cells: &FrameCells, k: usize, exclusion_radius: usize) -> Tensor<1> {
    let (rows, cols) = cells.grid;
    let n = rows * cols;
    let window = (2 * exclusion_radius + 1).pow(2);
    let k = k.clamp(1, n.saturating_sub(window).max(1));
    let device = cells.features.device();
    let index = Tensor::<1, Int>::arange(0..n as i64, &device);
    let row = index.clone().div_scalar(cols as i64).float();
    let col = index.remainder_scalar(cols as i64).float();
    let block = (MAX_BLOCK_ELEMENTS / n.max(1)).max(1);
    let mut parts = Vec::new();
    for start in (0..n).step_by(block) {
        let len = block.min(n - start);
        let near = |coordinate: &Tensor<1>| {
            let own = coordinate.clone().narrow(0, start, len).reshape([len, 1]);
            (own.expand([len, n]) - coordinate.clone().reshape([1, n]).expand([len, n]))
                .abs()
                .lower_equal_elem(exclusion_radius as f32)
        };
        let excluded = near(&row).bool_and(near(&col));
        let query = cells.features.clone().narrow(0, start, len);
        let distance = (query.matmul(cells.features.clone().transpose()).neg() + 1.0)
            .mask_fill(excluded, FARTHEST);
        parts.push(kth_smallest(distance, k));
    }
    Tensor::cat(parts, 0)
}

/// `[R]`: the `k`-th smallest value of each row of `values` (`[R, N]`, in
/// `0..=FARTHEST`), from above, to [`BISECTIONS`] halvings.
fn kth_smallest(values: Tensor<2>, k: usize) -> Tensor<1> {
    let [r, _] = values.dims();
    let device = values.device();
    let mut low: Tensor<2> = Tensor::zeros([r, 1], &device);
    let mut high: Tensor<2> = Tensor::full([r, 1], FARTHEST, &device);
    for _ in 0..BISECTIONS {
        let middle = (low.clone() + high.clone()) / 2.0;
        let enough = values
            .clone()
            .lower_equal(middle.clone().expand(values.dims()))
            .float()
            .sum_dim(1)
            .greater_equal_elem(k as f32);
        high = high.mask_where(enough.clone(), middle.clone());
        low = middle.mask_where(enough, low);
    }
    high.reshape([r])
}

/// The anomaly score map `[H, W]` (the embedded image's size) of `image`:
/// each cell's distance to its nearest cell in `bank`, or, without a bank,
/// its k-th-neighbour rarity within the frame; mapped through the
/// configured [`Calibration`] and upsampled bilinearly. An empty bank counts
/// as no bank.
pub fn novelty_map(
    image: &ImageEmbedding,
    bank: Option<&ReferenceBank>,
    config: &NoveltyConfig,
) -> Tensor<2> {
    let cells = frame_cells(&image.embedding, &image.frame);
    let (distance, calibration) = match bank.filter(|b| !b.is_empty()) {
        Some(bank) => (
            bank.nearest_distance(&cells.features),
            config.bank_calibration,
        ),
        None => {
            let n = cells.grid.0 * cells.grid.1;
            let k = (config.lone_k_fraction * n as f32).round() as usize;
            (
                kth_neighbour_distance(&cells, k, config.exclusion_radius),
                config.lone_calibration,
            )
        }
    };
    let (rows, cols) = cells.grid;
    let grid = distance.reshape([1, 1, rows, cols]) * calibration.gain + calibration.offset;
    upsample_cells(grid, &image.frame)
}

/// A cell grid `[1, 1, rows, cols]` to `[H, W]` of the original image:
/// the last row and column repeated over the cells partly on the padding,
/// to input pixels (16 per cell), cropped to the resized image, resized to
/// the original, as SAM's masks are.
fn upsample_cells(grid: Tensor<4>, frame: &ImageFrame) -> Tensor<2> {
    let [_, _, rows, cols] = grid.dims();
    let (rh, rw) = frame.resized;
    let (h, w) = frame.original;
    let extra = |cells: usize, pixels: usize| pixels.div_ceil(CELL_SIZE).max(cells) - cells;
    let (extra_rows, extra_cols) = (extra(rows, rh), extra(cols, rw));
    let grid = grid.pad([(0, extra_rows), (0, extra_cols)], PadMode::Edge);
    let input = bilinear(
        grid,
        [
            (rows + extra_rows) * CELL_SIZE,
            (cols + extra_cols) * CELL_SIZE,
        ],
    );
    bilinear(input.slice([0..1, 0..1, 0..rh, 0..rw]), [h, w]).reshape([h, w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn cells_cover_the_resized_image_and_not_the_padding() {
        let device = Device::flex();
        // A 200x300 image resizes to 683x1024: 42 whole rows of cells (the
        // 43rd lies partly over the padding), 64 columns.
        let frame = ImageFrame::new((200, 300), 1024);
        assert_eq!(frame.resized, (683, 1024));
        // Channel 0 holds 1 in the whole cells and 100 from the partial row
        // on; channel 1 holds 1 everywhere.
        let mut data = vec![0.0f32; 2 * 64 * 64];
        for y in 0..64 {
            for x in 0..64 {
                data[y * 64 + x] = if y < 42 { 1.0 } else { 100.0 };
                data[64 * 64 + y * 64 + x] = 1.0;
            }
        }
        let embedding = Tensor::<4>::from_data(TensorData::new(data, [1, 2, 64, 64]), &device);
        let cells = frame_cells(&embedding, &frame);
        assert_eq!(cells.grid, (42, 64));
        assert_eq!(cells.features.dims(), [42 * 64, 2]);
        let half = std::f32::consts::FRAC_1_SQRT_2;
        for v in values(cells.features) {
            assert!((v - half).abs() < 1e-6, "{v}");
        }
    }

    /// A one-row strip of cells: unit vectors at the angles (degrees) given.
    fn strip(angles: &[f32]) -> FrameCells {
        let data: Vec<f32> = angles
            .iter()
            .flat_map(|a| [a.to_radians().cos(), a.to_radians().sin()])
            .collect();
        let features = Tensor::from_data(TensorData::new(data, [angles.len(), 2]), &Device::flex());
        FrameCells {
            features,
            grid: (1, angles.len()),
        }
    }

    /// Cosine distance of unit vectors `degrees` apart.
    fn apart(degrees: f32) -> f32 {
        1.0 - degrees.to_radians().cos()
    }

    fn assert_close(actual: &[f32], expected: &[f32]) {
        let close = actual
            .iter()
            .zip(expected)
            .all(|(a, b)| (a - b).abs() < 1e-5);
        assert!(close, "{actual:?} vs {expected:?}");
    }

    #[test]
    fn the_kth_neighbour_skips_the_exclusion_window() {
        let cells = strip(&[
            0.0, 0.0, 0.0, 90.0, 90.0, 0.0, 0.0, 0.0, 0.0, 60.0, 0.0, 0.0,
        ]);
        let (z, a30, a60, a90) = (0.0, apart(30.0), apart(60.0), apart(90.0));
        // Radius 0 leaves out the cell itself only: the two 90-degree cells
        // find each other.
        let d = values(kth_neighbour_distance(&cells, 1, 0));
        assert_close(&d, &[z, z, z, z, z, z, z, z, z, a30, z, z]);
        // Radius 1 leaves out the adjacent cells too: the 90-degree pair no
        // longer sees itself, its nearest is the 60-degree cell.
        let d = values(kth_neighbour_distance(&cells, 1, 1));
        assert_close(&d, &[z, z, z, a30, a30, z, z, z, z, a30, z, z]);
        // k = 3: cell 3 sees 60 then the 0-degree cells; cell 9 sees the
        // two 90-degree cells then the 0-degree ones.
        let d = values(kth_neighbour_distance(&cells, 3, 1));
        assert_close(&d[3..5], &[a90, a90]);
        assert_close(&d[9..10], &[a60]);
        assert_close(&d[0..3], &[z, z, z]);
    }

    #[test]
    fn the_bank_finds_the_nearest_cell_and_leaves_a_frame_out() {
        let bank = ReferenceBank::from_frames([strip(&[0.0, 10.0]), strip(&[90.0])]);
        let query = strip(&[5.0, 80.0, 180.0]).features;
        let d = values(bank.nearest_distance(&query));
        assert_close(&d, &[apart(5.0), apart(10.0), apart(90.0)]);
        let d = values(bank.without(1).nearest_distance(&query));
        assert_close(&d, &[apart(5.0), apart(70.0), apart(170.0)]);
        assert_eq!(bank.without(0).len(), 1);
    }

    #[test]
    fn the_map_has_the_size_of_the_image() {
        let device = Device::flex();
        let frame = ImageFrame::new((200, 300), 1024);
        let embedding = Tensor::<4>::random(
            [1, 8, 64, 64],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let image = ImageEmbedding { embedding, frame };
        let config = NoveltyConfig::default();
        assert_eq!(novelty_map(&image, None, &config).dims(), [200, 300]);
        let bank = ReferenceBank::from_frames([frame_cells(&image.embedding, &frame)]);
        let map = novelty_map(&image, Some(&bank), &config);
        assert_eq!(map.dims(), [200, 300]);
        // Against itself every cell has distance 0: the calibration offset.
        let offset = config.bank_calibration.offset;
        for v in values(map) {
            assert!((v - offset).abs() < 1e-3, "{v}");
        }
    }
}
