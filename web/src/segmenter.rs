//! The page's side of the models: a [`ModelWorker`] is a dedicated Web
//! Worker ([`crate::model_worker`]) where the models run, so the page
//! stays responsive while they work (the CPU path computes for seconds
//! per frame); [`Segmenter`] asks it for embeddings, S2M results and
//! masks. Every answer brings the worker's GPU fault, if any; a worker that
//! panicked or failed to start is a fault too ([`Fault::Stopped`]). After
//! a fault the page terminates the worker and starts a new one; so does
//! the user's Stop, which leaves the requests in flight [`Fault::Cancelled`].
//!
//! The worker's script is a module made on the fly (a `blob:` URL, so the
//! app can live on another origin than the page that embeds it) that
//! imports this app's JS glue by its own URL (`import.meta.url` of the
//! glue) and instantiates the WebAssembly module the page already
//! compiled (posted to it), so nothing is downloaded twice.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::oneshot;
use js_sys::{Array, Reflect};
use s2m_core::gpu_watch::GpuFault;
use s2m_core::pipeline::Segmentation;
use s2m_core::score_map_file::ScoreMap;
use wasm_bindgen::prelude::*;
use web_sys::{
    Blob, BlobPropertyBag, ErrorEvent, MessageEvent, Url, Worker, WorkerOptions, WorkerType,
};

use crate::models::{ComputeChoice, StageTimes, WeightsFile};
use crate::worker_protocol::{FromWorker, Reply, Request, body_of, envelope, id_of};

#[wasm_bindgen]
extern "C" {
    /// The URL of this app's JS glue (`s2m-web.js`).
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static GLUE_URL: js_sys::JsString;
}

/// The worker's script: waits for the compiled module, instantiates the
/// app with it (which runs `main`, a no-op without a window) and starts
/// taking requests. `GLUE` is replaced by the glue's URL.
const WORKER_SCRIPT: &str = r#"import init, { runModelWorker } from "GLUE";
self.onmessage = async (event) => {
  self.onmessage = null;
  try {
    await init({ module_or_path: event.data });
    runModelWorker();
  } catch (e) {
    self.postMessage({ startFailed: String(e) });
  }
};
"#;

/// Why the models' results cannot be trusted any more.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Fault {
    #[error(transparent)]
    Gpu(#[from] GpuFault),
    #[error("the models stopped ({0})")]
    Stopped(String),
    /// The page stopped the worker itself.
    #[error("stopped by the page")]
    Cancelled,
}

type Answer = Result<Reply, String>;

/// What the worker's message handlers share with the page.
#[derive(Default)]
struct Shared {
    /// Told when the worker takes requests, or cannot.
    ready: RefCell<Option<oneshot::Sender<Result<(), String>>>>,
    /// Requests sent and not answered, by id.
    pending: RefCell<HashMap<u32, oneshot::Sender<Answer>>>,
    fault: RefCell<Option<Fault>>,
}

impl Shared {
    fn answer(&self, id: u32, answer: Answer) {
        if let Some(waiting) = self.pending.borrow_mut().remove(&id) {
            let _ = waiting.send(answer);
        }
    }

    /// The worker is gone: every request waiting fails with `why`.
    fn stopped(&self, why: String) {
        self.fault
            .borrow_mut()
            .get_or_insert(Fault::Stopped(why.clone()));
        if let Some(ready) = self.ready.borrow_mut().take() {
            let _ = ready.send(Err(format!("The models could not start ({why}).")));
        }
        for (_, waiting) in self.pending.borrow_mut().drain() {
            let _ = waiting.send(Err(format!("The models stopped ({why}).")));
        }
    }

    fn receive(&self, data: JsValue) {
        if let Some(why) = Reflect::get(&data, &"startFailed".into())
            .ok()
            .and_then(|v| v.as_string())
        {
            return self.stopped(format!("the worker could not start the app: {why}"));
        }
        let id = id_of(&data).unwrap_or(0);
        match body_of::<FromWorker>(&data) {
            Ok(FromWorker::Ready) => {
                if let Some(ready) = self.ready.borrow_mut().take() {
                    let _ = ready.send(Ok(()));
                }
            }
            Ok(FromWorker::Reply { result, fault }) => {
                if let Some(fault) = fault {
                    self.fault.borrow_mut().get_or_insert(Fault::Gpu(fault));
                }
                self.answer(id, result);
            }
            Ok(FromWorker::Panicked { message }) => self.stopped(format!("bug: {message}")),
            Err(e) => self.answer(id, Err(e)),
        }
    }
}

/// A running model worker and the way the models run there.
pub struct ModelWorker {
    worker: Worker,
    script_url: String,
    shared: Rc<Shared>,
    next_id: Cell<u32>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl ModelWorker {
    /// Starts a worker and opens where the models run there as `choice`
    /// says; returns why they run on the CPU, if they do.
    pub async fn start(choice: ComputeChoice) -> Result<(Rc<Self>, Option<String>), String> {
        let worker = Rc::new(Self::spawn()?);
        let (told, ready) = oneshot::channel();
        *worker.shared.ready.borrow_mut() = Some(told);
        worker
            .worker
            .post_message(&wasm_bindgen::module())
            .map_err(|e| format!("cannot start the model worker: {e:?}"))?;
        ready
            .await
            .unwrap_or_else(|_| Err("The models could not start.".into()))?;
        match worker.request(Request::Start { choice }).await? {
            Reply::Started { why_cpu } => Ok((worker, why_cpu)),
            other => Err(unexpected(&other)),
        }
    }

    fn spawn() -> Result<Self, String> {
        let glue = GLUE_URL.with(|url| String::from(url.clone()));
        let script = WORKER_SCRIPT.replace("GLUE", &glue);
        let options = BlobPropertyBag::new();
        options.set_type("text/javascript");
        let blob = Blob::new_with_str_sequence_and_options(&Array::of1(&script.into()), &options)
            .map_err(|e| format!("cannot make the model worker's script: {e:?}"))?;
        let script_url = Url::create_object_url_with_blob(&blob)
            .map_err(|e| format!("cannot make the model worker's script: {e:?}"))?;
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        options.set_name("s2m models");
        let worker = Worker::new_with_options(&script_url, &options).map_err(|e| {
            format!(
                "this page cannot start a Web Worker for the models ({e:?}); a host's \
                 Content-Security-Policy must allow `worker-src blob:`"
            )
        })?;
        let shared = Rc::new(Shared::default());
        let on_message = {
            let shared = Rc::clone(&shared);
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                shared.receive(event.data())
            })
        };
        let on_error = {
            let shared = Rc::clone(&shared);
            Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
                let message = match event.message() {
                    m if m.is_empty() => "the worker's script failed".to_owned(),
                    m => m,
                };
                shared.stopped(message)
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            worker,
            script_url,
            shared,
            next_id: Cell::new(1),
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// A future of the answer to request `id`, registered now.
    fn wait(&self, id: u32) -> impl Future<Output = Answer> + use<> {
        let (sender, receiver) = oneshot::channel();
        let stopped = matches!(
            *self.shared.fault.borrow(),
            Some(Fault::Stopped(_) | Fault::Cancelled)
        );
        if stopped {
            let _ = sender.send(Err("The models stopped.".into()));
        } else {
            self.shared.pending.borrow_mut().insert(id, sender);
        }
        async move {
            receiver
                .await
                .unwrap_or_else(|_| Err("The models stopped.".into()))
        }
    }

    async fn request(&self, request: Request) -> Answer {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let answer = self.wait(id);
        let (message, transfer) = envelope(id, &request)?;
        if let Err(e) = self.worker.post_message_with_transfer(&message, &transfer) {
            self.shared
                .answer(id, Err(format!("cannot reach the models: {e:?}")));
        }
        answer.await
    }

    /// Loads the models in the worker.
    pub async fn load(
        self: &Rc<Self>,
        sam: WeightsFile,
        generator: WeightsFile,
        head: WeightsFile,
    ) -> Result<Segmenter, String> {
        match self
            .request(Request::Load {
                sam,
                generator,
                head,
            })
            .await?
        {
            Reply::Loaded => Ok(Segmenter {
                worker: Rc::clone(self),
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// The first fault since the worker started, if any: then no result
    /// can be trusted, and a new worker is needed. Checked after every
    /// request.
    pub fn fault(&self) -> Option<Fault> {
        self.shared.fault.borrow().clone()
    }

    /// Stops the worker now (its GPU device goes with it): the requests
    /// in flight fail, and [`Self::fault`] says [`Fault::Cancelled`] unless
    /// a fault came first.
    pub fn terminate(&self) {
        self.worker.terminate();
        self.shared
            .fault
            .borrow_mut()
            .get_or_insert(Fault::Cancelled);
        self.shared.stopped("stopped by the page".into());
    }
}

impl Drop for ModelWorker {
    fn drop(&mut self) {
        self.worker.terminate();
        let _ = Url::revoke_object_url(&self.script_url);
    }
}

/// The loaded models, in their worker.
pub struct Segmenter {
    worker: Rc<ModelWorker>,
}

impl Segmenter {
    /// The first fault of the models' worker, if any.
    pub fn fault(&self) -> Option<Fault> {
        self.worker.fault()
    }

    /// Embeds an RGB image; returns the milliseconds the SAM encoder took.
    pub async fn set_image(
        &mut self,
        rgb: Vec<u8>,
        width: usize,
        height: usize,
    ) -> Result<f64, String> {
        match self
            .worker
            .request(Request::SetImage { rgb, width, height })
            .await?
        {
            Reply::ImageSet { encoder_ms } => Ok(encoder_ms),
            other => Err(unexpected(&other)),
        }
    }

    /// S2M on the current image (see [`crate::models::Models::segment`]).
    pub async fn segment(
        &self,
        score_map: Option<ScoreMap>,
        full_size: Option<(usize, usize)>,
    ) -> Result<(Segmentation, Vec<f32>, StageTimes), String> {
        let request = Request::Segment {
            score_map,
            full_size,
        };
        match self.worker.request(request).await? {
            Reply::Segmented {
                result,
                scores,
                times,
            } => Ok((result, scores, times)),
            other => Err(unexpected(&other)),
        }
    }

    /// The mask (row-major, the models' size) of one box the user drew.
    pub async fn mask_for_box(&self, bbox: [f32; 4]) -> Result<Vec<bool>, String> {
        match self.worker.request(Request::MaskForBox { bbox }).await? {
            Reply::Mask { mask } => Ok(mask),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(reply: &Reply) -> String {
    // The start of the reply names it; its data may be long.
    let reply: String = format!("{reply:?}").chars().take(60).collect();
    format!("the models answered out of turn ({reply}…)")
}
