//! s2m-core: the models of S2M ("Segment Every Out-of-Distribution Object",
//! Zhao et al., CVPR 2024, <https://arxiv.org/abs/2311.16516>) on Burn.
//!
//! Everything here is backend-generic: the device a model is created on
//! (`Device::flex()` on the CPU, `Device::wgpu(..)` natively or in the
//! browser) decides where it runs. No file or network I/O happens here;
//! weights arrive as bytes.

pub mod detector;
pub mod device;
pub mod frame_size;
pub mod gpu_watch;
pub mod mask_metrics;
pub mod nn;
pub mod pipeline;
pub mod readback;
pub mod result_files;
pub mod sam;
pub mod score_map_file;
pub mod scorer;
pub mod side_by_side;
pub mod weights;
