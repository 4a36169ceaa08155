//! The frames the user chose or dropped: image files, and the pictures of
//! video files at their frame times ([`crate::video`]). The page shows and
//! segments one at a time.

use std::rc::Rc;

use crate::image_decode::{DecodedImage, decode};
use crate::video::{Video, is_video};

#[derive(Clone)]
pub enum Frame {
    Image(web_sys::File),
    Video {
        video: Rc<Video>,
        time: f64,
    },
    /// A video file the browser cannot open: stepping to it shows why, as
    /// a corrupt image file does.
    UnreadableVideo {
        name: String,
        problem: String,
    },
}

impl Frame {
    /// What the frame list shows: the file name, and the time in a video.
    pub fn label(&self) -> String {
        match self {
            Self::Image(file) => file.name(),
            Self::Video { video, time } => format!("{} at {time:.1} s", video.name),
            Self::UnreadableVideo { name, .. } => name.clone(),
        }
    }

    /// The file name results are saved under: the image's, or the video's
    /// stem with the time (`drive-12.0s.webm`).
    pub fn file_name(&self) -> String {
        match self {
            Self::Image(file) => file.name(),
            Self::Video { video, time } => match video.name.rsplit_once('.') {
                Some((stem, extension)) => format!("{stem}-{time:.1}s.{extension}"),
                None => format!("{}-{time:.1}s", video.name),
            },
            Self::UnreadableVideo { name, .. } => name.clone(),
        }
    }

    /// The image file, for a frame that is one (score maps pair with image
    /// files by stem).
    pub fn image_file(&self) -> Option<&web_sys::File> {
        match self {
            Self::Image(file) => Some(file),
            Self::Video { .. } | Self::UnreadableVideo { .. } => None,
        }
    }

    pub async fn decode(&self) -> Result<DecodedImage, String> {
        match self {
            Self::Image(file) => decode(file).await,
            Self::Video { video, time } => video.frame_at(*time).await,
            Self::UnreadableVideo { problem, .. } => Err(problem.clone()),
        }
    }
}

/// The frames of `files`, in order: an image file is a frame, a video file
/// its frames (one unreadable frame if the browser cannot open it).
pub async fn frames_of(files: Vec<web_sys::File>) -> Vec<Frame> {
    let mut frames = Vec::new();
    for file in files {
        if !is_video(&file) {
            frames.push(Frame::Image(file));
            continue;
        }
        match Video::open(&file).await {
            Ok(video) => {
                let video = Rc::new(video);
                frames.extend(video.frame_times().into_iter().map(|time| Frame::Video {
                    video: video.clone(),
                    time,
                }));
            }
            Err(problem) => frames.push(Frame::UnreadableVideo {
                name: file.name(),
                problem,
            }),
        }
    }
    frames
}
