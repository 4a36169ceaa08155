//! A watched wgpu device (issue #6, failure handling): its loss is
//! reported as a fault, not a panic, and a new device works after it.
//! Needs a wgpu adapter (lavapipe in `cargo xtask test`, which sets
//! `S2M_REQUIRE_WGPU=1` so that a missing adapter fails instead of
//! skipping).

use burn::tensor::Tensor;
use pollster::block_on;
use s2m_core::gpu_watch::{GpuFault, WatchedGpu};
use s2m_core::readback::read_f32;

fn open() -> Option<WatchedGpu> {
    match block_on(WatchedGpu::open()) {
        Ok(gpu) => Some(gpu),
        Err(e) if std::env::var_os("S2M_REQUIRE_WGPU").is_some() => panic!("{e}"),
        Err(e) => {
            eprintln!("skipping: {e}");
            None
        }
    }
}

fn doubled(gpu: &WatchedGpu) -> Result<Vec<f32>, String> {
    let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &gpu.device);
    block_on(read_f32(x * 2.0, "the doubled tensor")).map_err(|e| e.to_string())
}

#[test]
fn a_lost_device_is_a_fault_and_a_new_device_works() {
    let Some(gpu) = open() else { return };
    eprintln!(
        "adapter {:?}, software: {}",
        gpu.adapter_name,
        gpu.is_software()
    );
    if gpu.adapter_name.contains("llvmpipe") {
        assert!(gpu.is_software(), "lavapipe is a software adapter");
    }
    assert_eq!(doubled(&gpu).unwrap(), vec![2.0, 4.0, 6.0]);
    assert_eq!(gpu.fault(), None);

    gpu.destroy();
    // Using the lost device returns (an error or nothing useful) without a
    // panic, and the loss is on record.
    let after = doubled(&gpu);
    let fault = gpu.fault();
    eprintln!("after the loss: {after:?}, fault {fault:?}");
    assert!(matches!(fault, Some(GpuFault::Lost(_))), "{fault:?}");

    let fresh = open().expect("a second device");
    assert_eq!(doubled(&fresh).unwrap(), vec![2.0, 4.0, 6.0]);
    assert_eq!(fresh.fault(), None);
}
