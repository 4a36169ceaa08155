//! What the page and the model worker ([`crate::model_worker`]) say to
//! each other. Each message is a JS object `{ id, body }`: `body` a
//! `Uint8Array` holding a postcard-encoded [`Request`] (page to worker) or
//! [`FromWorker`] (worker to page), transferred rather than copied, so a
//! frame's pixels or a weights file cross without a structured clone of
//! their contents. `id` pairs a reply with its request; a body that does
//! not decode still gets a reply by its id.
//!
//! One message does not follow this: when the worker's script cannot
//! instantiate the app, it posts `{ startFailed: "why" }` (see
//! [`crate::segmenter`]'s worker script), since no Rust runs there then.

use js_sys::{Array, Object, Reflect, Uint8Array};
use s2m_core::gpu_watch::GpuFault;
use s2m_core::pipeline::Segmentation;
use s2m_core::score_map_file::ScoreMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use crate::models::{ComputeChoice, StageTimes, WeightsFile};

/// What the page asks of the worker, one at a time, in order.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Opens where the models run: a WebGPU device, or the CPU.
    Start { choice: ComputeChoice },
    /// Loads MobileSAM, the prompt generator and the anomaly head there.
    Load {
        sam: WeightsFile,
        generator: WeightsFile,
        head: WeightsFile,
    },
    /// Embeds an RGB image (the SAM encoder).
    SetImage {
        #[serde(with = "serde_bytes")]
        rgb: Vec<u8>,
        width: usize,
        height: usize,
    },
    /// S2M on the current image, with this score map or the anomaly
    /// head's map of the image; `full_size` (height, width) is the frame's size when
    /// the models see a downscaled copy.
    Segment {
        score_map: Option<ScoreMap>,
        full_size: Option<(usize, usize)>,
    },
    /// SAM's mask for a box the user drew, in the models' pixels.
    MaskForBox { bbox: [f32; 4] },
}

/// The answer to each [`Request`], in the same order.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// Where the models run is open; why on the CPU, if they run there.
    Started {
        why_cpu: Option<String>,
    },
    Loaded,
    ImageSet {
        encoder_ms: f64,
    },
    Segmented {
        result: Segmentation,
        /// The score map at the models' size, for the views.
        scores: Vec<f32>,
        times: StageTimes,
    },
    Mask {
        mask: Vec<bool>,
    },
}

/// What the worker posts.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker {
    /// The app is instantiated and takes requests.
    Ready,
    /// The outcome of a request, and the GPU fault seen so far, if any
    /// (after one, no result of that device can be trusted).
    Reply {
        result: Result<Reply, String>,
        fault: Option<GpuFault>,
    },
    /// The worker hit a bug and takes no more requests.
    Panicked { message: String },
}

/// `{ id, body }` with `value` encoded into `body`, and the transfer
/// list holding `body`'s buffer.
pub fn envelope<T: Serialize>(id: u32, value: &T) -> Result<(JsValue, Array), String> {
    let bytes =
        postcard::to_allocvec(value).map_err(|e| format!("cannot encode a message: {e}"))?;
    let body = Uint8Array::from(bytes.as_slice());
    let message = Object::new();
    Reflect::set(&message, &"id".into(), &id.into()).map_err(js_error)?;
    Reflect::set(&message, &"body".into(), &body).map_err(js_error)?;
    Ok((message.into(), Array::of1(&body.buffer())))
}

/// The `id` of a message, if it carries one.
pub fn id_of(message: &JsValue) -> Option<u32> {
    Reflect::get(message, &"id".into())
        .ok()?
        .as_f64()
        .map(|id| id as u32)
}

/// The decoded `body` of a message.
pub fn body_of<T: DeserializeOwned>(message: &JsValue) -> Result<T, String> {
    let body = Reflect::get(message, &"body".into()).map_err(js_error)?;
    let bytes = body
        .dyn_into::<Uint8Array>()
        .map_err(|_| "a message without a body".to_owned())?
        .to_vec();
    postcard::from_bytes(&bytes).map_err(|e| format!("cannot decode a message: {e}"))
}

fn js_error(value: JsValue) -> String {
    format!("{value:?}")
}
