//! A wgpu device whose faults the application hears about instead of
//! dying of them (issue #6, failure handling): a lost device (driver
//! reset, GPU process crash, `GPUDevice.destroy()`) and the errors WebGPU
//! reports on no operation's result (out of memory, validation, internal).
//!
//! Burn's wgpu runtime (cubecl-wgpu) marks a device poisoned when it is
//! lost, so reads then fail instead of returning garbage, but it panics
//! on any uncaptured error, and on WebGPU an allocation that runs out of
//! memory is one: in the browser that would abort the page. Here each
//! [`WatchedGpu`] is a wgpu device of our own, registered with Burn as a
//! runtime of its own (so a lost one can be replaced by a fresh one, which
//! Burn's per-adapter runtimes cannot), with a handler that records the
//! error instead of panicking; [`WatchedGpu::fault`] says what happened.
//! The device is requested as cubecl-wgpu requests its own (every adapter
//! feature but mappable primary buffers, the adapter's limits). Natively
//! wgpu keeps one device-lost callback, so ours replaces the runtime's:
//! reads on a lost device then fail with a mapping error rather than the
//! runtime's "poisoned" one, and the fault is here either way.

use std::sync::{Arc, Mutex};

use burn::tensor::wgpu::{WgpuSetup, wgpu};
use burn::tensor::{Device, Tensor};

use crate::device::NoAdapter;
use crate::readback::read_f32;

/// What went wrong on a watched device. After any fault the device's
/// results cannot be trusted: open a new one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum GpuFault {
    #[error("the GPU device was lost ({0})")]
    Lost(String),
    #[error("the GPU ran out of memory ({0})")]
    OutOfMemory(String),
    #[error("the GPU reported an error ({0})")]
    Other(String),
}

/// The first fault of a device, shared with its callbacks.
#[derive(Debug, Clone, Default)]
struct FaultRecord(Arc<Mutex<Option<GpuFault>>>);

impl FaultRecord {
    fn record(&self, fault: GpuFault) {
        if let Ok(mut first) = self.0.lock() {
            first.get_or_insert(fault);
        }
    }

    fn get(&self) -> Option<GpuFault> {
        self.0.lock().ok().and_then(|f| f.clone())
    }
}

/// A Burn wgpu device with its faults recorded.
pub struct WatchedGpu {
    pub device: Device,
    /// The adapter's name (in browsers, its description, often empty).
    pub adapter_name: String,
    software: bool,
    wgpu_device: wgpu::Device,
    faults: FaultRecord,
}

impl WatchedGpu {
    /// Opens a new device on the best adapter (high performance): a new
    /// one on every call.
    pub async fn open() -> Result<Self, NoAdapter> {
        let fail = |what: &str, e: &dyn std::fmt::Display| NoAdapter(format!("{what}: {e}"));
        let instance = wgpu::Instance::default();
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| fail("no adapter", &e))?;
        let (wgpu_device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("s2m"),
                required_features: adapter
                    .features()
                    .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
                required_limits: adapter.limits(),
                memory_hints: wgpu::MemoryHints::MemoryUsage,
                trace: wgpu::Trace::Off,
                // SAFETY: as cubecl-wgpu's own device request: Burn's
                // runtime may compile to SPIR-V passthrough shaders natively.
                experimental_features: unsafe { wgpu::ExperimentalFeatures::enabled() },
            })
            .await
            .map_err(|e| fail("no device", &e))?;
        let info = adapter.get_info();
        let backend = info.backend;
        let software = info.device_type == wgpu::DeviceType::Cpu
            || ["swiftshader", "llvmpipe", "lavapipe"]
                .iter()
                .any(|name| info.name.to_ascii_lowercase().contains(name));
        let setup = WgpuSetup {
            instance,
            adapter,
            device: wgpu_device.clone(),
            queue,
            backend,
        };
        let device = Device::wgpu_options()
            .setup(setup)
            .init()
            .map_err(|e| fail("cannot register the device", &e))?;
        // The runtime installs its callbacks when it first runs something:
        // run something, then install ours over its error handler.
        read_f32(Tensor::<1>::zeros([1], &device), "a first tensor")
            .await
            .map_err(|e| fail("the device does not run", &e))?;
        let faults = FaultRecord::default();
        let lost = faults.clone();
        wgpu_device.set_device_lost_callback(move |reason, message| {
            lost.record(GpuFault::Lost(format!("{reason:?}: {message}")));
        });
        let errors = faults.clone();
        wgpu_device.on_uncaptured_error(Arc::new(move |error| {
            errors.record(match error {
                wgpu::Error::OutOfMemory { source } => GpuFault::OutOfMemory(source.to_string()),
                other => GpuFault::Other(other.to_string()),
            })
        }));
        Ok(Self {
            device,
            adapter_name: info.name,
            software,
            wgpu_device,
            faults,
        })
    }

    /// Whether the adapter is a software rasteriser (SwiftShader,
    /// llvmpipe/lavapipe, a browser's fallback adapter): it runs compute
    /// shaders on the CPU, far slower than code compiled for the CPU.
    pub fn is_software(&self) -> bool {
        self.software
    }

    /// The first fault since the device was opened, if any.
    pub fn fault(&self) -> Option<GpuFault> {
        // Natively wgpu delivers a loss from its maintenance, which a poll
        // runs; in the browser the loss arrives by itself (a promise) and
        // polling does nothing.
        let _ = self.wgpu_device.poll(wgpu::PollType::Poll);
        self.faults.get()
    }

    /// Releases the device now, as a lost device: its memory goes and
    /// every later use of it fails (a new [`WatchedGpu`] is needed).
    pub fn destroy(&self) {
        self.wgpu_device.destroy();
    }
}
