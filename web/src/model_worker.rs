//! The model worker: a dedicated Web Worker running this same app (issue
//! #6: the page stays responsive while the models work). The page starts
//! it ([`crate::segmenter::ModelWorker`]); its script instantiates the
//! page's own compiled WebAssembly module and calls [`run_model_worker`],
//! which takes [`Request`]s one at a time, in order, and answers each with
//! its result and the GPU fault seen so far (WebGPU works in dedicated
//! workers; on the CPU path the worker's thread, not the page's, does the
//! computing). A panic here is posted to the page as
//! [`FromWorker::Panicked`] before the worker dies.

use futures::StreamExt;
use futures::channel::mpsc;
use s2m_core::gpu_watch::GpuFault;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::models::{Compute, Models};
use crate::worker_protocol::{FromWorker, Reply, Request, body_of, envelope, id_of};

/// Starts taking requests (called by the worker's script once the app is
/// instantiated; see [`crate::segmenter`]) and says so with
/// [`FromWorker::Ready`].
#[wasm_bindgen(js_name = runModelWorker)]
pub fn run_model_worker() -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(
            0,
            &FromWorker::Panicked {
                message: info.to_string(),
            },
        );
    }));
    let (requests, mut queue) = mpsc::unbounded::<(u32, Result<Request, String>)>();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        let Some(id) = id_of(&data) else {
            web_sys::console::error_1(&"s2m worker: a message without an id".into());
            return;
        };
        let _ = requests.unbounded_send((id, body_of::<Request>(&data)));
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    wasm_bindgen_futures::spawn_local(async move {
        let mut worker = WorkerState::default();
        while let Some((id, request)) = queue.next().await {
            let result = match request {
                Ok(request) => worker.handle(request).await,
                Err(e) => Err(e),
            };
            let fault = worker.fault();
            post(id, &FromWorker::Reply { result, fault });
        }
    });
    post(0, &FromWorker::Ready);
    Ok(())
}

/// Where the models run, and the models once loaded.
#[derive(Default)]
struct WorkerState {
    compute: Option<Compute>,
    models: Option<Models>,
}

impl WorkerState {
    async fn handle(&mut self, request: Request) -> Result<Reply, String> {
        // Nothing runs on a faulty device: its results cannot be trusted,
        // and the page replaces the worker as soon as it hears.
        if let Some(fault) = self.fault() {
            return Err(format!("not run: {fault}"));
        }
        match request {
            Request::Start { choice } => {
                let (compute, why_cpu) = choice.resolve().await;
                self.models = None;
                self.compute = Some(compute);
                Ok(Reply::Started { why_cpu })
            }
            Request::Load {
                sam,
                generator,
                head,
            } => {
                let compute = self.compute.clone().ok_or("the worker was not started")?;
                // The old models go before the new ones take memory.
                self.models = None;
                self.models = Some(Models::new(compute, sam, generator, head)?);
                Ok(Reply::Loaded)
            }
            Request::SetImage { rgb, width, height } => {
                let encoder_ms = self.models()?.set_image(&rgb, width, height).await?;
                Ok(Reply::ImageSet { encoder_ms })
            }
            Request::Segment {
                score_map,
                full_size,
            } => {
                let (result, scores, times) = self
                    .models()?
                    .segment(score_map.as_ref(), full_size)
                    .await?;
                Ok(Reply::Segmented {
                    result,
                    scores,
                    times,
                })
            }
            Request::MaskForBox { bbox } => {
                let mask = self.models()?.mask_for_box(bbox).await?;
                Ok(Reply::Mask { mask })
            }
        }
    }

    fn fault(&self) -> Option<GpuFault> {
        self.compute.as_ref().and_then(Compute::fault)
    }

    fn models(&mut self) -> Result<&mut Models, String> {
        self.models
            .as_mut()
            .ok_or_else(|| "the models are not loaded".to_owned())
    }
}

/// Posts `message` to the page, its body's buffer transferred.
fn post(id: u32, message: &FromWorker) {
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        return;
    };
    match envelope(id, message) {
        Ok((message, transfer)) => {
            if let Err(e) = scope.post_message_with_transfer(&message, &transfer) {
                web_sys::console::error_1(&e);
            }
        }
        Err(e) => web_sys::console::error_1(&e.into()),
    }
}
