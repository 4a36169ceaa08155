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
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        report_in_page(&info.to_string());
    }));
    leptos::mount::mount_to_body(app::App);
}

/// Shows a panic where the user looks (`#status`, state "error"): the page
/// cannot go on after one, but it says so instead of freezing silently.
fn report_in_page(message: &str) {
    let status = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("status"));
    if let Some(status) = status {
        let _ = status.set_attribute("data-state", "error");
        status.set_text_content(Some(&format!(
            "The page hit a bug and stopped ({message}). Reload it to start again."
        )));
    }
}
