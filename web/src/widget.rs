//! The embeddable widget `<s2m-segmenter weights="URL" compute="auto">`
//! (issue #6): the
//! same app as the demo page, mounted in the element's own shadow root so
//! that neither the host page's CSS nor ours leaks across.
//!
//! `public/s2m-segmenter.js` defines the custom element; on connection it
//! calls [`mount_segmenter`]. The app then reports to the host page with
//! DOM events on the element (bubbling, composed):
//! - `s2m-status`: `detail = { state, message }` on every status change
//!   (`state`: loading, ready, embedding, segmenting, done, busy (a
//!   request arrived while another runs), error);
//! - `s2m-result`: `detail = { width, height, mask, boxes }` after each
//!   segmentation (`mask`: a `Uint8Array`, one byte a pixel, 1 inside;
//!   `boxes`: `[x0, y0, x1, y1, score]` in the frame's pixels; a box the
//!   user drew has no score).

use js_sys::{Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{CustomEvent, CustomEventInit, HtmlElement, ShadowRootInit, ShadowRootMode};

use crate::app::App;
use crate::models::ComputeChoice;

/// The page's stylesheet, inside each widget's shadow root (a document's
/// stylesheets do not reach into shadow trees).
const STYLE: &str = include_str!("../style.css");

/// Mounts the app in a new open shadow root of `host`, loading the weights
/// listed in `<weights>/manifest.json` and running the models where
/// `compute` (`auto`, `webgpu` or `cpu`) says.
#[wasm_bindgen(js_name = mountSegmenter)]
pub fn mount_segmenter(host: HtmlElement, weights: String, compute: String) -> Result<(), JsValue> {
    let document = host
        .owner_document()
        .ok_or_else(|| JsValue::from_str("the element is not in a document"))?;
    let root = match host.shadow_root() {
        Some(root) => root,
        None => host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
    };
    root.set_inner_html("");
    let style = document.create_element("style")?;
    style.set_text_content(Some(STYLE));
    root.append_child(&style)?;
    let container: HtmlElement = document.create_element("div")?.unchecked_into();
    root.append_child(&container)?;
    let base = weights.trim_end_matches('/').to_owned();
    let choice = ComputeChoice::parse(&compute);
    leptos::mount::mount_to(
        container,
        move || view! { <App weights_base=base compute_choice=choice host=Some(host) /> },
    )
    .forget();
    Ok(())
}

/// Dispatches `name` with `detail` on `host`, crossing its shadow boundary.
pub fn dispatch(host: &HtmlElement, name: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_bubbles(true);
    init.set_composed(true);
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = host.dispatch_event(&event);
    }
}

/// `{ state, message }`, the detail of `s2m-status`.
pub fn status_detail(state: &str, message: &str) -> JsValue {
    let detail = Object::new();
    let _ = Reflect::set(&detail, &"state".into(), &state.into());
    let _ = Reflect::set(&detail, &"message".into(), &message.into());
    detail.into()
}
