//! The s2m-web demo page (Leptos, client-side rendered, built by Trunk).
//!
//! The page runs the S2M pipeline on WebGPU: pick an image (and optionally
//! its anomaly score map), get the boxes of the prompt generator and the
//! union of their MobileSAM masks; draw a box to segment anything else.
//! Everything runs in the browser; weights are static files listed in
//! `weights/manifest.json`, verified by sha256 before use.

mod app;
mod box_drawing;
mod image_decode;
mod segmenter;
mod weights_fetch;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
