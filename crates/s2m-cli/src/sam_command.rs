//! `s2m sam`: box prompts through Segment Anything, the union of the masks
//! written as a PNG (255 inside, 0 outside).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::ModelArgs;
use crate::image_input::read_rgb;
use crate::model_loading::load_model;

#[derive(Args, Debug)]
pub struct SamArgs {
    /// The image (PNG, JPEG or WebP).
    #[arg(long)]
    pub image: PathBuf,
    /// A box prompt in image pixels, x0,y0,x1,y1; repeat for several.
    #[arg(long = "box", value_parser = parse_box, required = true, allow_hyphen_values = true)]
    pub boxes: Vec<[f32; 4]>,
    /// Output mask PNG.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

fn parse_box(s: &str) -> Result<[f32; 4], String> {
    let values: Vec<f32> = s
        .split(',')
        .map(|v| v.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("`{s}` is not four numbers x0,y0,x1,y1"))?;
    let b: [f32; 4] = values
        .try_into()
        .map_err(|_| format!("`{s}` is not four numbers x0,y0,x1,y1"))?;
    if !b.iter().all(|v| v.is_finite()) || b[2] <= b[0] || b[3] <= b[1] {
        return Err(format!("box `{s}` must have x0 < x1 and y0 < y1"));
    }
    Ok(b)
}

pub fn run(args: &SamArgs) -> Result<()> {
    // Where the mask goes is checked before the model runs.
    if args.out.is_dir() {
        bail!(
            "--out {} is a folder; give the mask's file name (mask.png)",
            args.out.display()
        );
    }
    // (A device such as /dev/null is left to the write.)
    let device = args.out.exists() && !args.out.is_file();
    if !device && image::ImageFormat::from_path(&args.out).is_err() {
        bail!(
            "--out {}: name the mask with an image extension (.png)",
            args.out.display()
        );
    }
    let image = read_rgb(&args.image)?;
    let (w, h) = (image.width as f32, image.height as f32);
    for b in &args.boxes {
        if b[0] < 0.0 || b[1] < 0.0 || b[2] > w || b[3] > h {
            bail!(
                "box {},{},{},{} reaches outside the {}x{} image (coordinates run from 0,0 to the width and height)",
                b[0],
                b[1],
                b[2],
                b[3],
                image.width,
                image.height
            );
        }
    }
    let (sam, device) = load_model(&args.model)?;
    let logits = sam.union_logits_for_boxes(image.to_tensor(&device), &args.boxes);
    let pixels: Vec<u8> = logits
        .into_data()
        .try_to_vec::<f32>()
        .context("reading the mask back")?
        .into_iter()
        .map(|logit| if logit > 0.0 { 255 } else { 0 })
        .collect();
    let png = image::GrayImage::from_raw(image.width as u32, image.height as u32, pixels)
        .context("mask size does not match the image")?;
    png.save(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}
