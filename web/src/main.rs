//! The s2m-web demo page and widget (Leptos, client-side rendered, built by
//! Trunk).
//!
//! The app runs the S2M pipeline on WebGPU: pick an image (and optionally
//! its anomaly score map), get the boxes of the prompt generator and the
//! union of their MobileSAM masks; draw a box to segment anything else.
//! The models run in a Web Worker started from the same WebAssembly
//! module ([`segmenter`], [`model_worker`]), so the page stays responsive.
//! Everything runs in the browser; weights are static files listed in
//! `weights/manifest.json`, verified by sha256 before use. The demo page
//! (`index.html`, whose body carries `data-s2m-page`) mounts it at start;
//! the `<s2m-segmenter>` element mounts it in its shadow root ([`widget`]).

mod app;
mod box_drawing;
mod exports;
mod frames;
mod image_decode;
mod model_worker;
mod models;
mod result_views;
mod segmenter;
mod video;
mod weights_fetch;
mod widget;
mod worker_protocol;

use leptos::prelude::*;

fn main() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        report_in_page(&info.to_string());
    }));
    let body = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body());
    if body.is_some_and(|b| b.has_attribute("data-s2m-page")) {
        leptos::mount::mount_to_body(|| {
            view! {
                <app::App
                    weights_base=app::page_weights_base()
                    compute_choice=app::page_compute_choice()
                    host=None
                />
            }
        });
    }
}

/// Shows a panic where the user looks (`#status` of the page and of every
/// widget, state "error"): the app cannot go on after one, but it says so
/// instead of freezing silently.
fn report_in_page(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let mut statuses: Vec<web_sys::Element> =
        document.get_element_by_id("status").into_iter().collect();
    if let Ok(widgets) = document.query_selector_all("s2m-segmenter") {
        for i in 0..widgets.length() {
            let root = widgets
                .item(i)
                .and_then(|w| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(w).ok())
                .and_then(|w| w.shadow_root());
            statuses.extend(root.and_then(|r| r.get_element_by_id("status")));
        }
    }
    for status in statuses {
        let _ = status.set_attribute("data-state", "error");
        status.set_text_content(Some(&format!(
            "The page hit a bug and stopped ({message}). Reload it to start again."
        )));
    }
}
