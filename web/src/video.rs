//! The pictures of a video file (issue #6, input): the browser's own
//! decoder opens the file in a detached, muted `<video>`; a frame is the
//! picture at a time, taken with `createImageBitmap` once the element has
//! seeked there. Frames are taken every [`STEP_SECONDS`], further apart in
//! videos longer than [`MAX_FRAMES`] steps, so that any length gives a
//! list the page can step through.

use std::cell::Cell;

use js_sys::{Function, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlVideoElement, ImageBitmap, Url};

use crate::image_decode::{DecodedImage, from_bitmap};

/// Seconds between two frames of a video.
pub const STEP_SECONDS: f64 = 1.0;

/// Most frames taken from one video.
pub const MAX_FRAMES: usize = 600;

/// Whether a file is a video, by its MIME type or, where the browser gives
/// none, its extension.
pub fn is_video(file: &web_sys::File) -> bool {
    let name = file.name().to_ascii_lowercase();
    file.type_().starts_with("video/")
        || [".mp4", ".webm", ".mov", ".mkv", ".ogv", ".m4v"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// An opened video file.
pub struct Video {
    pub name: String,
    element: HtmlVideoElement,
    url: String,
    /// Length in seconds.
    pub duration: f64,
    /// Whether a load or seek is in flight (the element has one at a time).
    waiting: Cell<bool>,
}

/// What the element signals once it is done: metadata read, or a seek.
#[derive(Clone, Copy)]
enum Awaited {
    Metadata,
    Seeked,
}

impl Video {
    /// Opens `file` and reads its length and picture size; a file the
    /// browser cannot play is an error naming it.
    pub async fn open(file: &web_sys::File) -> Result<Self, String> {
        let name = file.name();
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let element: HtmlVideoElement = document
            .create_element("video")
            .map_err(|_| "cannot create a video element")?
            .dyn_into()
            .map_err(|_| "not a video element")?;
        let url = Url::create_object_url_with_blob(file)
            .map_err(|_| format!("{name}: cannot be read"))?;
        element.set_muted(true);
        element.set_preload("auto");
        let mut video = Self {
            name: name.clone(),
            element,
            url,
            duration: 0.0,
            waiting: Cell::new(false),
        };
        let opened = video.wait_for(Awaited::Metadata, |v| v.element.set_src(&v.url));
        opened.await.map_err(|_| {
            format!(
                "{name} is not a playable video (corrupt, or a format this browser cannot decode)"
            )
        })?;
        let mut duration = video.element.duration();
        if duration == f64::INFINITY {
            // Recordings (MediaRecorder's WebM) often carry no length; a
            // seek far past the end makes the browser find it.
            video
                .wait_for(Awaited::Seeked, |v| v.element.set_current_time(1e9))
                .await
                .map_err(|_| format!("{name}: cannot find its length"))?;
            duration = video.element.duration();
        }
        let (width, height) = (video.element.video_width(), video.element.video_height());
        if !duration.is_finite() || duration <= 0.0 || width == 0 || height == 0 {
            return Err(format!(
                "{name}: no picture to take (length {duration} s, {width}x{height})"
            ));
        }
        video.duration = duration;
        Ok(video)
    }

    /// The times frames are taken at, in seconds: every [`STEP_SECONDS`]
    /// from 0, or [`MAX_FRAMES`] evenly spaced ones in a long video.
    pub fn frame_times(&self) -> Vec<f64> {
        let steps = (self.duration / STEP_SECONDS).ceil().max(1.0) as usize;
        let count = steps.min(MAX_FRAMES);
        let step = if steps > MAX_FRAMES {
            self.duration / MAX_FRAMES as f64
        } else {
            STEP_SECONDS
        };
        (0..count).map(|i| i as f64 * step).collect()
    }

    /// The picture at `time` seconds.
    pub async fn frame_at(&self, time: f64) -> Result<DecodedImage, String> {
        let label = format!("{} at {time:.1} s", self.name);
        self.wait_for(Awaited::Seeked, |v| v.element.set_current_time(time))
            .await
            .map_err(|_| format!("{label}: cannot seek there (or another seek is in flight)"))?;
        let window = web_sys::window().ok_or("no window")?;
        let promise = window
            .create_image_bitmap_with_html_video_element(&self.element)
            .map_err(|_| format!("{label}: no picture"))?;
        let bitmap: ImageBitmap = JsFuture::from(promise)
            .await
            .map_err(|_| format!("{label}: no picture"))?
            .dyn_into()
            .map_err(|_| format!("{label}: not a picture"))?;
        from_bitmap(bitmap, &label)
    }

    /// Runs `start` and waits for the event `what` (or an error event).
    async fn wait_for(&self, what: Awaited, start: impl FnOnce(&Self)) -> Result<(), ()> {
        if self.waiting.replace(true) {
            return Err(());
        }
        let element = self.element.clone();
        let done = Promise::new(&mut |resolve: Function, reject: Function| {
            match what {
                Awaited::Metadata => element.set_onloadedmetadata(Some(&resolve)),
                Awaited::Seeked => element.set_onseeked(Some(&resolve)),
            }
            element.set_onerror(Some(&reject));
        });
        start(self);
        let result = JsFuture::from(done).await;
        self.element.set_onloadedmetadata(None);
        self.element.set_onseeked(None);
        self.element.set_onerror(None);
        self.waiting.set(false);
        result.map(|_| ()).map_err(|_| ())
    }
}

impl Drop for Video {
    fn drop(&mut self) {
        self.element.remove_attribute("src").ok();
        Url::revoke_object_url(&self.url).ok();
    }
}
