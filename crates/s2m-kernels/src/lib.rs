//! s2m-kernels: our WGSL compute kernels for Burn's wgpu backend (natively
//! on Vulkan/Metal/DX12, in the browser on WebGPU), each with the plain
//! tensor-op implementation in s2m-core as its CPU path and test oracle.
//!
//! A kernel entry point returns `None` when its tensors do not live on a
//! wgpu device, so callers fall back to tensor ops there.

pub mod roi_align;
mod wgpu_launch;
