//! Choosing the device (and so the backend) models run on.
//!
//! `cpu` is Burn's flex backend; `wgpu` is Burn's wgpu backend on the best
//! adapter the machine offers (Vulkan/Metal/DX12 natively, WebGPU in the
//! browser). A missing adapter is an error, not a panic. The browser opens
//! its device with [`crate::gpu_watch::WatchedGpu`] (asynchronously, and
//! anew after a fault).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cpu,
    Wgpu,
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            other => Err(format!(
                "unknown backend `{other}` (expected `cpu` or `wgpu`)"
            )),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no usable GPU adapter for the wgpu backend: {0} (install a Vulkan driver, e.g. Mesa's lavapipe, or use the cpu backend)"
)]
pub struct NoAdapter(pub String);

/// The device for `backend`. The wgpu runtime is initialised once per
/// process; later calls return the same device.
#[cfg(not(target_arch = "wasm32"))]
pub fn open_device(backend: Backend) -> Result<burn::tensor::Device, NoAdapter> {
    use burn::tensor::Device;
    use std::sync::OnceLock;
    static WGPU: OnceLock<Result<Device, NoAdapter>> = OnceLock::new();
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        Backend::Wgpu => WGPU
            .get_or_init(|| {
                Device::wgpu_options()
                    .init()
                    .map_err(|e| NoAdapter(e.to_string()))
            })
            .clone(),
    }
}
