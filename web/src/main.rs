//! The s2m-web demo page (Leptos, client-side rendered, built by Trunk).
//!
//! For now the page runs Segment Anything (MobileSAM) on WebGPU: pick an
//! image, draw a box, get the mask. Later issues grow it into the whole S2M
//! pipeline. Everything runs in the browser; weights are static files
//! listed in `weights/manifest.json`, verified by sha256 before use.

mod app;
mod box_drawing;
mod image_decode;
mod segmenter;
mod weights_fetch;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
