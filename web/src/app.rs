//! The page: weights download with progress, image input, box drawing,
//! mask display. State that is not `Send` (the model, GPU tensors, DOM
//! objects) lives in a local `StoredValue`.

use js_sys::{Array, Object, Reflect, Uint8Array};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use s2m_core::sam::SamConfig;
use s2m_weights::StorageDType;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlCanvasElement, HtmlInputElement, MouseEvent};

use crate::box_drawing::{draw, event_to_image, mask_overlay};
use crate::image_decode::{DecodedImage, decode};
use crate::segmenter::Segmenter;
use crate::weights_fetch::{fetch_manifest, fetch_verified};

const MODEL: &str = "mobile_sam";

#[derive(Default)]
struct PageState {
    segmenter: Option<Segmenter>,
    image: Option<DecodedImage>,
    mask: Option<HtmlCanvasElement>,
    drag_start: Option<(f64, f64)>,
    busy: bool,
}

/// Where weights are fetched from: `?weights=URL` or `weights` next to the page.
fn weights_base() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|search| {
            search
                .trim_start_matches('?')
                .split('&')
                .find_map(|kv| {
                    kv.strip_prefix("weights=")
                        .map(|v| js_sys::decode_uri_component(v).ok()?.as_string())
                })
                .flatten()
        })
        .unwrap_or_else(|| "weights".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Publishes the last result on `window.s2mLastResult` for scripts and tests.
fn publish_result(mask: &[bool], width: usize, height: usize, b: [f32; 4]) {
    let result = Object::new();
    let bytes: Vec<u8> = mask.iter().map(|&m| m as u8).collect();
    let _ = Reflect::set(&result, &"width".into(), &JsValue::from(width as u32));
    let _ = Reflect::set(&result, &"height".into(), &JsValue::from(height as u32));
    let _ = Reflect::set(&result, &"mask".into(), &Uint8Array::from(bytes.as_slice()));
    let box_js: Array = b.iter().map(|v| JsValue::from(*v)).collect();
    let _ = Reflect::set(&result, &"box".into(), &box_js);
    if let Some(window) = web_sys::window() {
        let _ = Reflect::set(&window, &"s2mLastResult".into(), &result);
    }
}

#[component]
pub fn App() -> impl IntoView {
    // (state for tests and styling, message for people)
    let (status, set_status) = signal((
        "loading".to_string(),
        "Loading MobileSAM weights…".to_string(),
    ));
    let (progress, set_progress) = signal((0u64, 0u64));
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let state = StoredValue::new_local(PageState::default());

    spawn_local(async move {
        let base = weights_base();
        let result: Result<Segmenter, String> = async {
            let manifest = fetch_manifest(&base).await?;
            let entry = manifest
                .find(MODEL, StorageDType::F32)
                .ok_or_else(|| format!("{base}/manifest.json lists no {MODEL} weights"))?
                .clone();
            let bytes =
                fetch_verified(&base, &entry, |got, total| set_progress.set((got, total))).await?;
            set_status.set(("loading".into(), "Starting WebGPU…".into()));
            Segmenter::new(&SamConfig::mobile_sam(), bytes, &entry.name).await
        }
        .await;
        match result {
            Ok(segmenter) => {
                state.update_value(|s| s.segmenter = Some(segmenter));
                set_status.set(("ready".into(), "Ready: choose an image.".into()));
            }
            Err(e) => set_status.set(("error".into(), e)),
        }
    });

    let on_file = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        spawn_local(async move {
            set_status.set(("embedding".into(), format!("Reading {}…", file.name())));
            match decode(&file).await {
                Ok(image) => {
                    let has_model = state.with_value(|s| s.segmenter.is_some());
                    if !has_model {
                        set_status.set(("error".into(), "The model is not loaded yet.".into()));
                        return;
                    }
                    state.update_value(|s| {
                        if let Some(seg) = s.segmenter.as_mut() {
                            seg.set_image(&image.rgb, image.width, image.height);
                        }
                        if let Some(canvas) = canvas_ref.get_untracked() {
                            draw(&canvas, &image.bitmap, None, None);
                        }
                        s.mask = None;
                        s.image = Some(image);
                    });
                    set_status.set(("image".into(), "Draw a box around an object.".into()));
                }
                Err(e) => set_status.set(("error".into(), e)),
            }
        });
    };

    let redraw = move |rect: Option<[f64; 4]>| {
        state.with_value(|s| {
            if let (Some(canvas), Some(image)) = (canvas_ref.get_untracked(), s.image.as_ref()) {
                draw(&canvas, &image.bitmap, s.mask.as_ref(), rect);
            }
        });
    };

    let on_down = move |ev: MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let ready = state.with_value(|s| s.image.is_some() && !s.busy);
        if ready {
            let start = event_to_image(&canvas, &ev);
            state.update_value(|s| s.drag_start = Some(start));
        }
    };
    let on_move = move |ev: MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        if let Some((x0, y0)) = state.with_value(|s| s.drag_start) {
            let (x1, y1) = event_to_image(&canvas, &ev);
            redraw(Some([x0, y0, x1, y1]));
        }
    };
    let on_up = move |ev: MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let Some((x0, y0)) = state.try_update_value(|s| s.drag_start.take()).flatten() else {
            return;
        };
        let (x1, y1) = event_to_image(&canvas, &ev);
        let b = [
            x0.min(x1) as f32,
            y0.min(y1) as f32,
            x0.max(x1) as f32,
            y0.max(y1) as f32,
        ];
        if b[2] - b[0] < 2.0 || b[3] - b[1] < 2.0 {
            redraw(None);
            return;
        }
        state.update_value(|s| s.busy = true);
        set_status.set(("segmenting".into(), "Segmenting…".into()));
        spawn_local(async move {
            let segmenter = state.try_update_value(|s| s.segmenter.take()).flatten();
            let Some(segmenter) = segmenter else { return };
            let result = segmenter.mask_for_box(b).await;
            let (width, height) = state.with_value(|s| {
                s.image
                    .as_ref()
                    .map(|i| (i.width, i.height))
                    .unwrap_or((0, 0))
            });
            state.update_value(|s| {
                s.segmenter = Some(segmenter);
                s.busy = false;
            });
            match result {
                Ok(mask) => {
                    let overlay = mask_overlay(&mask, width, height);
                    state.update_value(|s| s.mask = overlay);
                    redraw(Some(b.map(f64::from)));
                    publish_result(&mask, width, height, b);
                    let pixels = mask.iter().filter(|m| **m).count();
                    set_status.set((
                        "done".into(),
                        format!("Mask: {pixels} pixels. Draw another box."),
                    ));
                }
                Err(e) => set_status.set(("error".into(), e)),
            }
        });
    };

    view! {
        <main>
            <h1>"s2m-web"</h1>
            <p class="lead">"Segment Anything (MobileSAM) running in your browser on WebGPU. Choose an image, then drag a box around an object."</p>
            <p id="status" data-state=move || status.get().0>{move || status.get().1}</p>
            <progress
                id="weights-progress"
                max=move || progress.get().1.max(1) as f64
                value=move || progress.get().0 as f64
            ></progress>
            <span id="weights-bytes">{move || {
                let (got, total) = progress.get();
                format!("{:.1} / {:.1} MB", got as f64 / 1e6, total as f64 / 1e6)
            }}</span>
            <div><input id="image-input" type="file" accept="image/*" on:change=on_file /></div>
            <canvas id="view" node_ref=canvas_ref on:mousedown=on_down on:mousemove=on_move on:mouseup=on_up></canvas>
        </main>
    }
}
