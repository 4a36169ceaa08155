//! Plumbing shared by our raw-WGSL kernels on burn 0.22's cubecl backend:
//! recognising a wgpu device, taking the device buffer of a `Tensor`,
//! uploading small host arrays, and the source-kernel wrapper.
//!
//! Binding rules of cubecl-wgpu for raw sources: bind group 0, binding `i`
//! is the i-th buffer passed at launch, entry point `main`, every buffer
//! declared `var<storage, read_write>` (natively, buffers may share one
//! allocation), and no uniform buffers.

use burn::backend::wgpu::{CubeBackend, CubeTensor, KernelSource, SourceTemplate, into_contiguous};
use burn::backend::{DispatchDevice, RuntimeId};
use burn::cubecl::CubeDim;
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::Handle;
use burn::tensor::{DType, Device, Tensor};

/// Threads per workgroup: SwiftShader (Chromium's software WebGPU) allows
/// at most 256.
pub const WORKGROUP_SIZE: u32 = 256;

/// Whether tensors on `device` run on the wgpu runtime.
pub fn is_wgpu(device: &Device) -> bool {
    matches!(device.as_dispatch(), DispatchDevice::Cube(d) if d.runtime() == RuntimeId::Wgpu)
}

/// The contiguous f32 device tensor behind `tensor`, or `None` when it is
/// not a float tensor of the cubecl backend.
pub fn cube_f32<const D: usize>(tensor: Tensor<D>) -> Option<CubeTensor> {
    let tensor = tensor.try_into_primitive::<CubeBackend>().ok()?;
    (tensor.dtype == DType::F32).then(|| into_contiguous(tensor))
}

/// Uploads little-endian 32-bit words (WebGPU is little-endian).
pub fn upload_words(tensor: &CubeTensor, words: &[u32]) -> Handle {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    tensor.client.create_from_slice(&bytes)
}

/// A WGSL source whose `{{ workgroup_size }}` placeholder is filled in.
pub struct WgslSource {
    pub text: &'static str,
    pub name: &'static str,
}

impl WgslSource {
    pub fn cube_dim() -> CubeDim {
        CubeDim::new_1d(WORKGROUP_SIZE)
    }
}

impl KernelSource for WgslSource {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(self.text).register("workgroup_size", WORKGROUP_SIZE.to_string())
    }

    /// Compiled pipelines are cached by this id alone, so it names the
    /// kernel and its workgroup size.
    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
            .cube_dim(Self::cube_dim().0)
            .info((self.name, WORKGROUP_SIZE))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// A dispatch grid of at least `workgroups` workgroups, folded into two
/// dimensions when it exceeds the per-dimension limit of 65535.
pub fn grid(workgroups: u32) -> (u32, u32) {
    const MAX_PER_DIMENSION: u32 = 65_535;
    let x = workgroups.clamp(1, MAX_PER_DIMENSION);
    (x, workgroups.div_ceil(x).max(1))
}
