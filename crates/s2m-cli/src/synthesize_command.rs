//! `s2m synthesize --out DIR`: synthetic scenes for trying and timing the
//! pipeline without a dataset (`s2m_train::scene`): per scene a road
//! picture with pasted objects (`scene-NNN.png`), the energy score map a
//! scorer would give for it (`scene-NNN.npy`, next to the picture where
//! `s2m segment --scorer file` looks), the objects' boxes
//! (`scene-NNN.json`) and their union mask (`scene-NNN.mask.png`, 255 on
//! objects).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use s2m_train::scene::{road_picture, scene_config};
use s2m_train::synthesis::synthesize;
use serde::Serialize;

use crate::npy_file::write_f32;

/// First seed of the scenes: apart from the training seeds (which start at
/// 0 for run seed 0) and the validation seeds (from 2^62).
const SCENE_SEEDS: u64 = 1 << 61;

#[derive(Args, Debug)]
pub struct SynthesizeArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of scenes.
    #[arg(long, default_value_t = 20)]
    pub count: usize,
    /// Scene height in pixels.
    #[arg(long, default_value_t = 256)]
    pub height: usize,
    /// Scene width in pixels.
    #[arg(long, default_value_t = 512)]
    pub width: usize,
    /// Smallest object side in pixels.
    #[arg(long, default_value_t = 24)]
    pub min_object_size: u32,
    /// Offset added to the scene seeds (another set of scenes).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Serialize)]
struct SceneJson {
    seed: u64,
    /// x0, y0, x1, y1 of each object, in pixels.
    boxes: Vec<[f32; 4]>,
}

pub fn run(args: &SynthesizeArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let config = scene_config(args.height, args.width, args.min_object_size);
    for k in 0..args.count {
        let seed = SCENE_SEEDS + args.seed + k as u64;
        let map = synthesize(&config, seed)?;
        let stem = args.out.join(format!("scene-{k:03}"));
        let picture =
            image::RgbImage::from_raw(map.width as u32, map.height as u32, road_picture(&map))
                .context("picture size")?;
        picture.save(stem.with_extension("png"))?;
        let mask = map
            .instances
            .iter()
            .map(|&i| if i > 0 { 255 } else { 0 })
            .collect();
        image::GrayImage::from_raw(map.width as u32, map.height as u32, mask)
            .context("mask size")?
            .save(stem.with_extension("mask.png"))?;
        write_f32(
            &stem.with_extension("npy"),
            map.height,
            map.width,
            &map.values,
        )?;
        let json = SceneJson {
            seed,
            boxes: map.objects.iter().map(|o| o.bbox).collect(),
        };
        std::fs::write(
            stem.with_extension("json"),
            serde_json::to_string_pretty(&json)? + "\n",
        )?;
    }
    println!("wrote {} scenes to {}", args.count, args.out.display());
    Ok(())
}
