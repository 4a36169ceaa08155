//! The page: weights download with progress, image and score-map input,
//! S2M run on every image (boxes, masks and their union), box drawing for
//! a SAM mask of the user's own box. State that is not `Send` (the models,
//! GPU tensors, DOM objects) lives in a local `StoredValue`.

use js_sys::{Array, Object, Reflect, Uint8Array};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use s2m_core::pipeline::Segmentation;
use s2m_core::result_files::{boxes_json, confidence_png, mask_png};
use s2m_core::score_map_file::ScoreMap;
use s2m_core::score_map_file::naming::{score_map_for, score_map_stem};
use s2m_eval::ground_truth::VoidPixels;
use s2m_eval::threshold_curve::frame_iou_curve;
use s2m_weights::{Manifest, ManifestEntry, StorageDType};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    DragEvent, HtmlCanvasElement, HtmlElement, HtmlInputElement, HtmlSelectElement, MouseEvent,
};

use crate::box_drawing::{draw, event_to_image, mask_overlay};
use crate::exports::download;
use crate::frames::{Frame, frames_of};
use crate::image_decode::{DecodedImage, decode};
use crate::models::{ComputeChoice, StageTimes, WeightsFile, boxes_with_scores};
use crate::result_views::{ResultLayers, View, draw_curve, rgba_canvas};
use crate::segmenter::{Fault, ModelWorker, Segmenter};
use crate::video::is_video;
use crate::weights_fetch::{WeightsSource, fetch_manifest, fetch_verified};
use crate::widget::{dispatch, status_detail};
use s2m_core::gpu_watch::GpuFault;
use std::rc::Rc;

/// The models the page loads: manifest model name and the storage types
/// it takes, preferred first. f16 files are half the download; they load
/// into the f32 models (the weights rounded to f16: MobileSAM's embedding
/// stays within 1e-2 relative L2 of the f32 file's, tested natively in
/// `mobile_sam_parity.rs`), so the f32 file is only the stand-in.
const HALF_FIRST: &[StorageDType] = &[StorageDType::F16, StorageDType::F32];
const SAM: (&str, &[StorageDType]) = ("mobile_sam", HALF_FIRST);
const GENERATOR: (&str, &[StorageDType]) = ("s2m_generator", HALF_FIRST);
/// The anomaly head is tiny (about 100 kB): one f32 file.
const HEAD: (&str, &[StorageDType]) = ("anomaly_head", &[StorageDType::F32]);

#[derive(Default)]
struct PageState {
    /// The worker where the models run (on a WebGPU device, or the CPU)
    /// and why on the CPU if so; kept across a retried download, replaced
    /// after a fault.
    worker: Option<(Rc<ModelWorker>, Option<String>)>,
    segmenter: Option<Segmenter>,
    /// After a fault: what happened (shown once the models are back)
    /// and the frame to open again then, if any.
    recovery: Option<(String, Option<usize>)>,
    /// Faults since the last request that went through: a second one
    /// in a row does not open the frame again (no endless retries).
    faults_in_a_row: u32,
    image: Option<DecodedImage>,
    /// The score map the user uploaded, used for every image of its size.
    score_map: Option<ScoreMap>,
    mask: Option<HtmlCanvasElement>,
    /// The generator's boxes of the current image, `[x0, y0, x1, y1, score]`.
    boxes: Vec<[f32; 5]>,
    drag_start: Option<(f64, f64)>,
    busy: bool,
    /// Milliseconds the SAM encoder took on the current image.
    encoder_ms: f64,
    /// The last S2M result of the current image and its layers, for the
    /// views and the exports.
    result: Option<Segmentation>,
    layers: Option<ResultLayers>,
    /// What the view shows over the frame when it is not the mask.
    view_overlay: Option<HtmlCanvasElement>,
    /// The ground-truth mask of the current image at the models' size,
    /// and the IoU-vs-threshold curve of plain thresholding against it.
    truth: Option<Vec<u8>>,
    curve: Option<Vec<(f32, f32)>>,
    /// The frames chosen or dropped, the current one shown.
    frames: Vec<Frame>,
    /// Score maps dropped with the frames, each used for the frame of its
    /// stem (`scene-001.npy` for `scene-001.png`).
    frame_score_maps: Vec<web_sys::File>,
    /// The current image's and score map's file names (exports).
    image_name: String,
    score_map_name: String,
}

fn manifest_entry(
    manifest: &Manifest,
    base: &str,
    (model, dtypes): (&str, &[StorageDType]),
) -> Result<ManifestEntry, String> {
    manifest
        .find_preferred(model, dtypes)
        .cloned()
        .ok_or_else(|| format!("{base}/manifest.json lists no {model} weights"))
}

/// The value of `?name=` in the page's URL, if given.
fn url_parameter(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|kv| {
        let (key, value) = kv.split_once('=')?;
        (key == name)
            .then(|| js_sys::decode_uri_component(value).ok()?.as_string())
            .flatten()
    })
}

/// Where the demo page fetches weights from: `?weights=URL` or `weights`
/// next to the page.
pub fn page_weights_base() -> String {
    url_parameter("weights")
        .unwrap_or_else(|| "weights".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Where the demo page runs the models: `?compute=auto|webgpu|cpu`.
pub fn page_compute_choice() -> Result<ComputeChoice, String> {
    ComputeChoice::parse(&url_parameter("compute").unwrap_or_default())
}

/// The files of a file list.
fn files_of(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// The files chosen in the file input an event came from; the input is
/// cleared, so that choosing the same file again is a change too.
fn take_files(ev: &leptos::ev::Event) -> Vec<web_sys::File> {
    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
    else {
        return Vec::new();
    };
    let files = input
        .files()
        .map(|list| files_of(&list))
        .unwrap_or_default();
    input.set_value("");
    files
}

/// The score map in a chosen or dropped file.
async fn read_score_map(file: &web_sys::File) -> Result<ScoreMap, String> {
    let name = file.name();
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| format!("cannot read {name}"))?;
    ScoreMap::from_bytes(&Uint8Array::new(&buffer).to_vec(), &name).map_err(|e| e.to_string())
}

/// Publishes the last result on `window.s2mLastResult` for scripts and
/// tests, and as an `s2m-result` event on the widget's element if any:
/// `width`, `height`, `mask` (one byte a pixel) and `boxes`
/// (`[x0, y0, x1, y1, score]` each; the drawn box has no score).
fn publish_result(
    host: Option<&HtmlElement>,
    mask: &[bool],
    width: usize,
    height: usize,
    boxes: &[Vec<f32>],
) {
    let result = Object::new();
    let bytes: Vec<u8> = mask.iter().map(|&m| m as u8).collect();
    let _ = Reflect::set(&result, &"width".into(), &JsValue::from(width as u32));
    let _ = Reflect::set(&result, &"height".into(), &JsValue::from(height as u32));
    let _ = Reflect::set(&result, &"mask".into(), &Uint8Array::from(bytes.as_slice()));
    let boxes_js: Array = boxes
        .iter()
        .map(|b| b.iter().map(|v| JsValue::from(*v)).collect::<Array>())
        .collect();
    let _ = Reflect::set(&result, &"boxes".into(), &boxes_js);
    if let Some(window) = web_sys::window() {
        let _ = Reflect::set(&window, &"s2mLastResult".into(), &result);
    }
    if let Some(host) = host {
        dispatch(host, "s2m-result", &result);
    }
}

/// The app, on the demo page (`host` none) or in a widget's shadow root
/// (`host` the `<s2m-segmenter>` element, which receives its events);
/// weights come from `<weights_base>/manifest.json`; the models run where
/// `compute_choice` says (a bad choice is the page's error).
#[component]
pub fn App(
    weights_base: String,
    compute_choice: Result<ComputeChoice, String>,
    host: Option<HtmlElement>,
) -> impl IntoView {
    // (state for tests and styling, message for people)
    let (status, set_status) = signal((
        "loading".to_string(),
        "Loading the models (MobileSAM and the prompt generator)…".to_string(),
    ));
    // Each weights file: (name, bytes received, size).
    let (files, set_files) = signal(Vec::<(String, u64, u64)>::new());
    let (failed_load, set_failed_load) = signal(false);
    let progress = move || {
        files.with(|files| {
            files
                .iter()
                .fold((0, 0), |(got, total), f| (got + f.1, total + f.2))
        })
    };
    let host = StoredValue::new_local(host);
    Effect::new(move |_| {
        let (state, message) = status.get();
        host.with_value(|h| {
            if let Some(h) = h {
                dispatch(h, "s2m-status", &status_detail(&state, &message));
            }
        });
    });
    let weights_base = StoredValue::new(weights_base);
    let compute_choice = StoredValue::new(compute_choice);
    let (timings, set_timings) = signal(String::new());
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let state = StoredValue::new_local(PageState::default());

    // The frames the user chose or dropped, and which one is shown.
    let (frame_names, set_frame_names) = signal(Vec::<String>::new());
    let (current_frame, set_current_frame) = signal(0usize);
    // A frame to open again once the models are back after a GPU fault.
    let (reopen, set_reopen) = signal(None::<usize>);

    // The model worker and WebGPU first, then the weights (cache or
    // network), then the models; a failure offers a retry.
    let load = move || {
        set_failed_load.set(false);
        spawn_local(async move {
            set_status.set((
                "loading".into(),
                "Starting the models' worker (WebGPU or the CPU)…".into(),
            ));
            let base = weights_base.get_value();
            let result: Result<(Segmenter, Vec<WeightsSource>), String> = async {
                let healthy = state
                    .with_value(|s| s.worker.clone())
                    .filter(|(worker, _)| worker.fault().is_none());
                let worker = match healthy {
                    Some((worker, _)) => worker,
                    None => {
                        let (worker, why_cpu) =
                            ModelWorker::start(compute_choice.get_value()?).await?;
                        state.update_value(|s| s.worker = Some((Rc::clone(&worker), why_cpu)));
                        worker
                    }
                };
                set_status.set((
                    "loading".into(),
                    "Loading the models (MobileSAM, the anomaly head and the prompt generator)…"
                        .into(),
                ));
                let manifest = fetch_manifest(&base).await?;
                let entries = [
                    manifest_entry(&manifest, &base, SAM)?,
                    manifest_entry(&manifest, &base, GENERATOR)?,
                    manifest_entry(&manifest, &base, HEAD)?,
                ];
                set_files.set(
                    entries
                        .iter()
                        .map(|e| (e.name.clone(), 0, e.size))
                        .collect(),
                );
                let mut files = Vec::new();
                let mut sources = Vec::new();
                for (index, entry) in entries.iter().enumerate() {
                    let (bytes, source) = fetch_verified(&base, entry, |got, _| {
                        set_files.update(|files| files[index].1 = got)
                    })
                    .await?;
                    files.push(WeightsFile {
                        name: entry.name.clone(),
                        bytes,
                    });
                    sources.push(source);
                }
                let head = files.pop().ok_or("no anomaly head weights")?;
                let generator = files.pop().ok_or("no generator weights")?;
                let sam = files.pop().ok_or("no SAM weights")?;
                Ok((worker.load(sam, generator, head).await?, sources))
            }
            .await;
            match result {
                Ok((segmenter, sources)) => {
                    state.update_value(|s| s.segmenter = Some(segmenter));
                    let cached = sources
                        .iter()
                        .filter(|s| **s == WeightsSource::Cache)
                        .count();
                    let why_cpu = state
                        .with_value(|s| s.worker.as_ref().and_then(|(_, why)| why.clone()))
                        .map_or(String::new(), |why| format!("{why} "));
                    let ready = format!(
                        "{why_cpu}Ready ({cached} of {} weights files from this browser's \
                         cache): choose an image (and, if you have one, its score map).",
                        sources.len()
                    );
                    match state.try_update_value(|s| s.recovery.take()).flatten() {
                        Some((what, frame)) => {
                            set_status.set(("ready".into(), format!("{what} {ready}")));
                            if frame.is_some() {
                                set_reopen.set(frame);
                            }
                        }
                        None => set_status.set(("ready".into(), ready)),
                    }
                }
                Err(e) => {
                    set_failed_load.set(true);
                    set_status.set(("error".into(), e));
                }
            }
        });
    };
    load();

    // A fault: results of the models' worker can no longer be trusted. A
    // new worker, its device and the models on it (weights from Cache
    // Storage) replace them; after a lost device, a GPU error or a stopped
    // worker the current frame is opened again, after running out of
    // memory the user chooses what next.
    let recover = move |fault: Fault| {
        // The user's Stop: the page has started new models already.
        if fault == Fault::Cancelled {
            return;
        }
        let frame = current_frame.get_untracked();
        // Errors read in lower case; the status is a sentence.
        let mut fault_text = fault.to_string();
        if let Some(first) = fault_text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let in_a_row = state.with_value(|s| s.faults_in_a_row) + 1;
        let restarted = match &fault {
            Fault::Gpu(_) => "The page started a new GPU device",
            Fault::Stopped(_) | Fault::Cancelled => "The page started them again",
        };
        let (what, again) = match &fault {
            _ if in_a_row > 1 => (
                format!(
                    "{fault_text}, again. {restarted}; choose the frame again to retry, or \
                     another one."
                ),
                None,
            ),
            Fault::Gpu(GpuFault::OutOfMemory(_)) => (
                format!(
                    "{fault_text}. {restarted}: try a smaller frame, or close other tabs that \
                     use the GPU."
                ),
                None,
            ),
            _ => (
                format!("{fault_text}. {restarted} and goes on."),
                Some(frame),
            ),
        };
        web_sys::console::error_1(&format!("s2m: {fault}").into());
        state.update_value(|s| {
            if let Some((worker, _)) = s.worker.take() {
                worker.terminate();
            }
            s.segmenter = None;
            s.busy = false;
            s.recovery = Some((what.clone(), again));
            s.faults_in_a_row = in_a_row;
        });
        set_status.set(("loading".into(), what));
        load();
    };

    // The user's Stop: the worker goes, with whatever it computes; new
    // models start in a new one (weights from Cache Storage).
    let stop = move || {
        state.update_value(|s| {
            if let Some((worker, _)) = s.worker.take() {
                worker.terminate();
            }
            s.segmenter = None;
            s.busy = false;
            s.recovery = Some(("Stopped.".into(), None));
        });
        set_status.set((
            "loading".into(),
            "Stopped. Starting the models again…".into(),
        ));
        load();
    };

    let (view, set_view) = signal(View::Mask);
    // The slider's position in the score map's range, 0..=1.
    let (slider, set_slider) = signal(0.5f32);
    let (measures, set_measures) = signal(String::new());
    let (has_result, set_has_result) = signal(false);
    let (has_truth, set_has_truth) = signal(false);
    let curve_ref = NodeRef::<html::Canvas>::new();

    let redraw = move |rect: Option<[f64; 4]>| {
        state.with_value(|s| {
            if let (Some(canvas), Some(image)) = (canvas_ref.get_untracked(), s.image.as_ref()) {
                let overlay = match view.get_untracked() {
                    View::Mask => s.mask.as_ref(),
                    _ => s.view_overlay.as_ref(),
                };
                draw(
                    &canvas,
                    &image.bitmap,
                    overlay,
                    &s.boxes,
                    rect,
                    image.scale(),
                );
            }
        });
    };
    // The overlay of the chosen view, the IoUs against the ground truth
    // and the curve, after any change of result, view, slider or truth.
    let refresh_views = move || {
        let (chosen, position) = (view.get_untracked(), slider.get_untracked());
        state.update_value(|s| {
            s.view_overlay = s.layers.as_ref().and_then(|l| {
                let rgba = l.rgba(chosen, l.threshold_at(position))?;
                rgba_canvas(&rgba, l.width, l.height)
            });
        });
        let text = state.try_update_value(|s| {
            let layers = s.layers.as_ref()?;
            let threshold = layers.threshold_at(position);
            let Some(truth) = s.truth.as_ref() else {
                return Some(format!("threshold {threshold:.3}"));
            };
            let (plain, s2m) = layers.ious(truth, threshold);
            // The curve depends on the result and the truth, not the slider.
            let curve = s
                .curve
                .get_or_insert_with(|| frame_iou_curve(&layers.scores, truth, VoidPixels::Excluded));
            if let Some(canvas) = curve_ref.get_untracked() {
                draw_curve(&canvas, curve, s2m, threshold);
            }
            let best = curve.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
            Some(format!(
                "threshold {threshold:.3}: IoU {plain:.3}; S2M (no threshold): IoU {s2m:.3}; best threshold {}",
                best.map_or("-".to_string(), |(t, v)| format!("{t:.3} (IoU {v:.3})"))
            ))
        });
        set_measures.set(text.flatten().unwrap_or_default());
        redraw(None);
    };

    // S2M on the current image: the models leave the state while they work
    // (an await must not hold a borrow of it).
    let run_s2m = move || {
        let Some(segmenter) = state.try_update_value(|s| s.segmenter.take()).flatten() else {
            return;
        };
        let score_map = state.with_value(|s| s.score_map.clone());
        let full_size = state.with_value(|s| s.image.as_ref().map(|i| (i.height, i.width)));
        state.update_value(|s| s.busy = true);
        let source = if score_map.is_some() {
            "the uploaded score map"
        } else {
            "the anomaly head's map of the image"
        };
        set_status.set(("segmenting".into(), format!("Segmenting with {source}…")));
        spawn_local(async move {
            let result: Result<(Segmentation, Vec<f32>, StageTimes), String> =
                segmenter.segment(score_map, full_size).await;
            if let Some(fault) = segmenter.fault() {
                return recover(fault);
            }
            state.update_value(|s| {
                s.segmenter = Some(segmenter);
                s.busy = false;
            });
            match result {
                Ok((result, scores, times)) => {
                    let mask = result.mask();
                    let boxes = boxes_with_scores(&result.detections);
                    let layers = ResultLayers::new(
                        result.width,
                        result.height,
                        scores,
                        result.confidence.clone(),
                    );
                    let (width, height) = (result.width, result.height);
                    state.update_value(|s| {
                        s.faults_in_a_row = 0;
                        s.mask = mask_overlay(&mask, width, height);
                        s.boxes = boxes.clone();
                        s.layers = Some(layers);
                        s.curve = None;
                        s.result = Some(result);
                    });
                    set_has_result.set(true);
                    refresh_views();
                    let listed: Vec<Vec<f32>> = boxes.iter().map(|b| b.to_vec()).collect();
                    host.with_value(|h| publish_result(h.as_ref(), &mask, width, height, &listed));
                    let message = match boxes.len() {
                        0 => format!(
                            "No anomaly found with {source}. Draw a box to segment something yourself."
                        ),
                        n => format!(
                            "{n} anomal{} found with {source} (score >= {:.2}). Draw a box to add your own.",
                            if n == 1 { "y" } else { "ies" },
                            boxes.iter().map(|b| b[4]).fold(1.0f32, f32::min)
                        ),
                    };
                    set_status.set(("done".into(), message));
                    let encoder_ms = state.with_value(|s| s.encoder_ms);
                    set_timings.set(format!(
                        "SAM encoder {encoder_ms:.0} ms, score map {:.0} ms, prompt generator {:.0} ms, SAM masks {:.0} ms",
                        times.scorer, times.generator, times.sam_decoder
                    ));
                }
                Err(e) => set_status.set(("error".into(), e)),
            }
        });
    };

    // The frames the user chose or dropped; one is shown and segmented at
    // a time (its embedding is what a drawn box uses).
    let open_frame = move |index: usize| {
        let Some(frame) = state.with_value(|s| s.frames.get(index).cloned()) else {
            return;
        };
        let refuse_busy = move |frame: &Frame| {
            set_status.set((
                "busy".into(),
                format!(
                    "Still working on the previous request: choose {} again when it is done, \
                     or Stop it.",
                    frame.label()
                ),
            ))
        };
        spawn_local(async move {
            // The frame list shows the frame that is open (or being opened).
            if state.with_value(|s| s.busy) {
                return refuse_busy(&frame);
            }
            set_current_frame.set(index);
            set_status.set(("embedding".into(), format!("Reading {}…", frame.label())));
            let mut image = match frame.decode().await {
                Ok(image) => image,
                Err(e) => return set_status.set(("error".into(), e)),
            };
            let own_map = frame.image_file().and_then(|file| {
                state.with_value(|s| {
                    let names: Vec<String> = s.frame_score_maps.iter().map(|m| m.name()).collect();
                    score_map_for(&file.name(), &names).map(|i| s.frame_score_maps[i].clone())
                })
            });
            if let Some(map_file) = own_map {
                match read_score_map(&map_file).await {
                    Ok(map) => state.update_value(|s| {
                        s.score_map = Some(map);
                        s.score_map_name = map_file.name();
                    }),
                    Err(e) => return set_status.set(("error".into(), e)),
                }
            }
            if state.with_value(|s| s.busy) {
                return refuse_busy(&frame);
            }
            let segmenter = state.try_update_value(|s| s.segmenter.take()).flatten();
            let Some(mut segmenter) = segmenter else {
                set_status.set(("error".into(), "The models are not ready yet.".into()));
                return;
            };
            // The frame shows while the encoder works on it.
            let (width, height) = (image.model_width, image.model_height);
            let rgb = std::mem::take(&mut image.rgb);
            state.update_value(|s| {
                s.busy = true;
                s.mask = None;
                s.boxes.clear();
                s.image = Some(image);
                s.image_name = frame.file_name();
                s.result = None;
                s.layers = None;
                s.view_overlay = None;
                s.truth = None;
                s.curve = None;
            });
            set_has_result.set(false);
            set_has_truth.set(false);
            set_measures.set(String::new());
            redraw(None);
            set_status.set((
                "embedding".into(),
                "Embedding the image (SAM encoder)…".into(),
            ));
            let embedded = segmenter.set_image(rgb, width, height).await;
            if let Some(fault) = segmenter.fault() {
                return recover(fault);
            }
            state.update_value(|s| {
                s.segmenter = Some(segmenter);
                s.busy = false;
            });
            match embedded {
                Ok(encoder_ms) => {
                    state.update_value(|s| s.encoder_ms = encoder_ms);
                    run_s2m();
                }
                Err(e) => set_status.set(("error".into(), e)),
            }
        });
    };
    // The frame to open again once the models are back after a GPU fault.
    Effect::new(move |_| {
        if let Some(index) = reopen.get() {
            open_frame(index);
        }
    });
    let choose_frames = move |files: Vec<web_sys::File>| async move {
        if files.is_empty() {
            return;
        }
        if files.iter().any(is_video) {
            set_status.set(("embedding".into(), "Opening the video…".into()));
        }
        let frames = frames_of(files).await;
        set_frame_names.set(frames.iter().map(Frame::label).collect());
        state.update_value(|s| s.frames = frames);
        open_frame(0);
    };

    // Reads a score map file; `run` segments the current image with it.
    let load_score_map = move |file: web_sys::File, run: bool| async move {
        let name = file.name();
        match read_score_map(&file).await {
            Ok(map) => {
                state.update_value(|s| {
                    s.score_map = Some(map);
                    s.score_map_name = name.clone();
                });
                let (has_image, busy) = state.with_value(|s| (s.image.is_some(), s.busy));
                if busy {
                    set_status.set((
                        "busy".into(),
                        format!(
                            "Score map {name} loaded; the run in progress still uses the \
                             previous one, the next image uses it."
                        ),
                    ));
                } else if has_image && run {
                    run_s2m();
                } else {
                    set_status.set((
                        "ready".into(),
                        format!("Score map {name} loaded: choose its image."),
                    ));
                }
            }
            Err(e) => set_status.set(("error".into(), e)),
        }
    };

    let on_file = move |ev: leptos::ev::Event| {
        // Frames picked with the input go with the uploaded score map.
        state.update_value(|s| s.frame_score_maps.clear());
        spawn_local(choose_frames(take_files(&ev)));
    };

    let on_score_map = move |ev: leptos::ev::Event| {
        if let Some(file) = take_files(&ev).into_iter().next() {
            spawn_local(load_score_map(file, true));
        }
    };

    // Files dropped on the page: score maps (by their extension, or
    // `*.score.png`) and frames. Maps named after dropped frames go with
    // them; otherwise the (first) map is loaded first, for every frame.
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        let files = ev
            .data_transfer()
            .and_then(|d| d.files())
            .map(|list| files_of(&list))
            .unwrap_or_default();
        let (maps, frames): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|f| score_map_stem(&f.name()).is_some());
        let map_names: Vec<String> = maps.iter().map(|m| m.name()).collect();
        let by_stem = frames
            .iter()
            .any(|f| score_map_for(&f.name(), &map_names).is_some());
        spawn_local(async move {
            if by_stem {
                // Each frame opens with the map of its stem.
                state.update_value(|s| s.frame_score_maps = maps);
            } else if let Some(map) = maps.into_iter().next() {
                // One map for whatever frames come (or the current one).
                load_score_map(map, frames.is_empty()).await;
            }
            choose_frames(frames).await;
        });
    };

    // Full-size pixels per model pixel of the current image.
    let scale = move || state.with_value(|s| s.image.as_ref().map_or(1.0, |i| i.scale()));
    let on_down = move |ev: MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        let ready = state.with_value(|s| s.image.is_some() && !s.busy);
        if ready {
            let start = event_to_image(&canvas, &ev, scale());
            state.update_value(|s| s.drag_start = Some(start));
        }
    };
    let on_move = move |ev: MouseEvent| {
        let Some(canvas) = canvas_ref.get_untracked() else {
            return;
        };
        if let Some((x0, y0)) = state.with_value(|s| s.drag_start) {
            let (x1, y1) = event_to_image(&canvas, &ev, scale());
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
        let (x1, y1) = event_to_image(&canvas, &ev, scale());
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
        set_status.set(("segmenting".into(), "Segmenting your box…".into()));
        spawn_local(async move {
            let segmenter = state.try_update_value(|s| s.segmenter.take()).flatten();
            let Some(segmenter) = segmenter else {
                state.update_value(|s| s.busy = false);
                return;
            };
            let result = segmenter.mask_for_box(b).await;
            if let Some(fault) = segmenter.fault() {
                return recover(fault);
            }
            let (width, height) = state.with_value(|s| {
                s.image
                    .as_ref()
                    .map(|i| (i.model_width, i.model_height))
                    .unwrap_or((0, 0))
            });
            state.update_value(|s| {
                s.segmenter = Some(segmenter);
                s.busy = false;
            });
            match result {
                Ok(mask) => {
                    let overlay = mask_overlay(&mask, width, height);
                    state.update_value(|s| {
                        s.mask = overlay;
                        s.boxes.clear();
                    });
                    redraw(Some(b.map(f64::from)));
                    host.with_value(|h| {
                        publish_result(h.as_ref(), &mask, width, height, &[b.to_vec()])
                    });
                    let pixels = mask.iter().filter(|m| **m).count();
                    set_status.set((
                        "done".into(),
                        format!("Mask of your box: {pixels} pixels. Draw another box."),
                    ));
                }
                Err(e) => set_status.set(("error".into(), e)),
            }
        });
    };

    let on_view = move |ev: leptos::ev::Event| {
        if let Some(select) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlSelectElement>().ok())
        {
            set_view.set(View::from_key(&select.value()));
            refresh_views();
        }
    };
    let on_slider = move |ev: leptos::ev::Event| {
        if let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        {
            set_slider.set(input.value_as_number() as f32 / 1000.0);
            refresh_views();
        }
    };

    // A ground-truth label image of the current frame: white (or any
    // channel above 127) marks anomalous pixels.
    let on_truth = move |ev: leptos::ev::Event| {
        let Some(file) = take_files(&ev).into_iter().next() else {
            return;
        };
        spawn_local(async move {
            let label = match decode(&file).await {
                Ok(label) => label,
                Err(e) => return set_status.set(("error".into(), e)),
            };
            let frame = state.with_value(|s| s.image.as_ref().map(|i| (i.width, i.height)));
            let Some((width, height)) = frame else {
                return set_status.set((
                    "error".into(),
                    "Choose the image first, then its ground truth.".into(),
                ));
            };
            if (label.width, label.height) != (width, height) {
                return set_status.set((
                    "error".into(),
                    format!(
                        "{} is {}x{} pixels but the image is {width}x{height}: not its ground truth.",
                        file.name(),
                        label.width,
                        label.height
                    ),
                ));
            }
            // 1 (anomaly) where any channel is bright, else 0 (inlier).
            let truth: Vec<u8> = label
                .rgb
                .chunks_exact(3)
                .map(|p| p.iter().any(|&v| v > 127) as u8)
                .collect();
            state.update_value(|s| {
                s.truth = Some(truth);
                s.curve = None;
            });
            set_has_truth.set(true);
            refresh_views();
        });
    };

    // Exports of the last S2M result, at the models' size (the frame's,
    // unless it was downscaled).
    let export = move |what: &'static str| {
        let saved = state.with_value(|s| {
            let result = s.result.as_ref().ok_or("no result to save yet")?;
            let stem = s
                .image_name
                .rsplit_once('.')
                .map_or(s.image_name.as_str(), |(stem, _)| stem)
                .to_owned();
            match what {
                "mask" => download(
                    &mask_png(result).map_err(|e| e.to_string())?,
                    &format!("{stem}.mask.png"),
                    "image/png",
                ),
                "confidence" => download(
                    &confidence_png(result).map_err(|e| e.to_string())?,
                    &format!("{stem}.confidence.png"),
                    "image/png",
                ),
                _ => download(
                    boxes_json(result, &s.image_name, &s.score_map_name).as_bytes(),
                    &format!("{stem}.boxes.json"),
                    "application/json",
                ),
            }
        });
        if let Err(e) = saved {
            set_status.set(("error".into(), e));
        }
    };

    view! {
        <main on:dragover=|ev: DragEvent| ev.prevent_default() on:drop=on_drop>
            <h1>"s2m-web"</h1>
            <p class="lead">"Segment every out-of-distribution object (S2M) in your browser on WebGPU: a prompt generator finds the anomalies in a score map, Segment Anything (MobileSAM) outlines each. Nothing leaves your machine."</p>
            <div class="status-row">
                <p id="status" data-state=move || status.get().0>{move || status.get().1}</p>
                <button id="stop" on:click=move |_| stop()
                    disabled=move || !matches!(status.get().0.as_str(), "embedding" | "segmenting" | "busy")
                    title="Stop the models' work on this frame (they start again, weights from the cache)">"Stop"</button>
            </div>
            <progress
                id="weights-progress"
                max=move || progress().1.max(1) as f64
                value=move || progress().0 as f64
            ></progress>
            <span id="weights-bytes">{move || {
                let (got, total) = progress();
                format!("{:.1} / {:.1} MB", got as f64 / 1e6, total as f64 / 1e6)
            }}</span>
            <Show when=move || failed_load.get()>
                <button id="retry" on:click=move |_| load()>"Retry"</button>
            </Show>
            <ul class="weights-files">
                {move || files.get().into_iter().map(|(name, got, size)| view! {
                    <li>
                        <progress max=size.max(1) as f64 value=got as f64></progress>
                        {format!(" {name}: {:.1} / {:.1} MB", got as f64 / 1e6, size as f64 / 1e6)}
                    </li>
                }).collect_view()}
            </ul>
            <div class="inputs">
                <label>"Images or a video " <input id="image-input" type="file" accept="image/*,video/*" multiple on:change=on_file /></label>
                <label>"Score map (optional: .npy, .npz, 16-bit PNG, float TIFF, PFM; without one the anomaly head scores the image) "
                    <input id="score-map-input" type="file" accept=".npy,.npz,.png,.tif,.tiff,.pfm" on:change=on_score_map />
                </label>
            </div>
            <p class="drop-hint">"…or drop frames, videos (stepped a second at a time) and score maps anywhere on the page."</p>
            <Show when=move || frame_names.with(|n| n.len() > 1)>
                <div class="frames">
                    <button id="previous-frame" disabled=move || current_frame.get() == 0
                        on:click=move |_| open_frame(current_frame.get_untracked().saturating_sub(1))>"◀ previous"</button>
                    <span id="frame-label">{move || frame_names.with(|names| format!(
                        " frame {} of {}: {} ",
                        current_frame.get() + 1,
                        names.len(),
                        names.get(current_frame.get()).cloned().unwrap_or_default()
                    ))}</span>
                    <button id="next-frame" disabled=move || frame_names.with(|n| current_frame.get() + 1 >= n.len())
                        on:click=move |_| open_frame(current_frame.get_untracked() + 1)>"next ▶"</button>
                </div>
            </Show>
            <p id="timings">{move || timings.get()}</p>
            <div class="views">
                <label>"Show "
                    <select id="view-select" on:change=on_view>
                        {View::ALL.into_iter().map(|v| view! { <option value=v.key()>{v.label()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Threshold "
                    <input id="threshold" type="range" min="0" max="1000" value="500"
                        disabled=move || !has_result.get() on:input=on_slider />
                </label>
                <label>"Ground truth (optional, white = anomaly) "
                    <input id="truth-input" type="file" accept="image/*"
                        disabled=move || !has_result.get() on:change=on_truth />
                </label>
                <span class="exports">
                    "Save "
                    <button id="export-mask" disabled=move || !has_result.get() on:click=move |_| export("mask")>"mask.png"</button>
                    <button id="export-confidence" disabled=move || !has_result.get() on:click=move |_| export("confidence")>"confidence.png"</button>
                    <button id="export-boxes" disabled=move || !has_result.get() on:click=move |_| export("boxes")>"boxes.json"</button>
                </span>
            </div>
            <p id="measures">{move || measures.get()}</p>
            <canvas id="iou-curve" width="480" height="200" node_ref=curve_ref
                style:display=move || if has_truth.get() { "block" } else { "none" }></canvas>
            <canvas id="view" node_ref=canvas_ref on:mousedown=on_down on:mousemove=on_move on:mouseup=on_up on:mouseleave=on_up></canvas>
        </main>
    }
}
