//! `s2m segment` end to end on a folder: the tiny R50 generator
//! of the detector fixture on its reference score map (as a `.npy` file next
//! to the image) gives the reference boxes; MobileSAM turns them into the
//! mask and confidence map, written with the overlay and the timings. Bad
//! images in the same folder are reported and skipped, and the exit code
//! says that some failed.
//!
//! Needs MobileSAM's converted weights (`cargo xtask weights`).

mod common;

use common::{
    assert_fails_with, fixture, le_bytes, npy, reference, segment_with_tiny_generator, temp_dir,
};

/// A road-grey frame with a bright square: something for SAM to segment.
fn frame(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        if (100..160).contains(&x) && (60..120).contains(&y) {
            image::Rgb([220, 60, 30])
        } else {
            let v = 90 + ((x * 7 + y * 13) % 17) as u8;
            image::Rgb([v, v, v + 5])
        }
    })
}

#[test]
fn a_folder_gives_every_output_and_bad_images_are_skipped() {
    let r = reference();
    let dir = temp_dir("segment-in");
    let out = temp_dir("segment-out");
    let map = npy("<f4", &[r.height, r.width], &le_bytes(&r.map));
    frame(r.width as u32, r.height as u32)
        .save(dir.join("frame.png"))
        .unwrap();
    std::fs::write(dir.join("frame.npy"), &map).unwrap();
    // A map of another size, a corrupt image, an image without a map.
    frame(64, 48).save(dir.join("small.png")).unwrap();
    std::fs::write(dir.join("small.npy"), &map).unwrap();
    std::fs::write(dir.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    frame(64, 48).save(dir.join("nomap.png")).unwrap();

    let output = segment_with_tiny_generator(&[dir.as_os_str()], &out);
    assert_fails_with(&output, "3 of 4 images failed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "broken.png",
        "small.npy does not fit its image",
        "no score map for",
    ] {
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }

    // The good frame: the reference boxes (map and image share their size).
    let folder = out.join("frame");
    let boxes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("boxes.json")).unwrap()).unwrap();
    let detections = boxes["detections"].as_array().unwrap();
    assert_eq!(detections.len(), r.boxes.len());
    let scores: Vec<f32> = detections
        .iter()
        .map(|d| d["score"].as_f64().unwrap() as f32)
        .collect();
    for ((d, expected), score) in detections.iter().zip(&r.boxes).zip(&scores) {
        let b: Vec<f32> = serde_json::from_value(d["box"].clone()).unwrap();
        for k in 0..4 {
            assert!((b[k] - expected[k]).abs() < 1e-2, "{b:?} vs {expected:?}");
        }
        assert!(*score > 0.0 && *score <= 1.0);
    }

    // Mask, confidence (PNG and .npy) and overlay agree with each other.
    let (w, h) = (r.width as u32, r.height as u32);
    let mask = image::open(folder.join("mask.png")).unwrap().to_luma8();
    assert_eq!(mask.dimensions(), (w, h));
    let confidence_png = image::open(folder.join("confidence.png"))
        .unwrap()
        .to_luma16();
    assert_eq!(confidence_png.dimensions(), (w, h));
    let npy_bytes = std::fs::read(folder.join("confidence.npy")).unwrap();
    let npy = npyz::NpyFile::new(&npy_bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[h as u64, w as u64]);
    let confidence: Vec<f32> = npy.into_vec().unwrap();
    let mut covered = 0;
    for (i, &c) in confidence.iter().enumerate() {
        let (x, y) = ((i % w as usize) as u32, (i / w as usize) as u32);
        assert_eq!(mask.get_pixel(x, y).0[0] == 255, c > 0.0, "pixel {i}");
        let level = confidence_png.get_pixel(x, y).0[0];
        assert_eq!(level, (c * 65535.0).round() as u16, "pixel {i}");
        if c > 0.0 {
            covered += 1;
            // Every covered pixel carries one of the boxes' scores.
            assert!(
                scores.iter().any(|s| (s - c).abs() < 1e-6),
                "pixel {i}: {c}"
            );
        }
    }
    assert!(covered > 0, "no pixel is in any mask");
    let overlay = image::open(folder.join("overlay.png")).unwrap().to_rgb8();
    assert_eq!(overlay.dimensions(), (w, h));

    let timings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("timings.json")).unwrap()).unwrap();
    let images = timings["images"].as_array().unwrap();
    assert_eq!(images.len(), 1);
    let seconds = |stage: &str| images[0]["seconds"][stage].as_f64().unwrap();
    for stage in ["scorer", "generator", "sam_encoder", "sam_decoder"] {
        assert!(seconds(stage) >= 0.0);
    }
    // Scorer and encoder side by side: together no longer than the sum of
    // the two, and no shorter than the longer one.
    let together = seconds("scorer_and_encoder");
    assert!(together >= seconds("scorer").max(seconds("sam_encoder")));
    assert!(together <= seconds("scorer") + seconds("sam_encoder") + 0.05);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_arguments_are_messages() {
    let out = temp_dir("segment-args");
    let run = |args: &[&str]| {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        segment_with_tiny_generator(&args, &out)
    };
    assert_fails_with(&run(&["nowhere/*.png"]), "names no file");
    let image = out.join("one.png");
    frame(32, 32).save(&image).unwrap();
    let image = image.to_str().unwrap();
    assert_fails_with(
        &run(&[image, "--scorer", "sml=x"]),
        "expected head, head=WEIGHTS, file",
    );
    assert_fails_with(
        &run(&[image, "--scorer", "rpl=/missing/rpl.pth"]),
        "cannot read",
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn novelty_needs_no_score_maps_and_normal_frames_go_with_it() {
    let dir = temp_dir("segment-novelty-in");
    let out = temp_dir("segment-novelty-out");
    for k in 0..3 {
        frame(192, 128).save(dir.join(format!("f{k}.png"))).unwrap();
    }
    let run = |extra: &[&str]| {
        let mut args = vec![dir.as_os_str()];
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        segment_with_tiny_generator(&args, &out)
    };
    let output = run(&["--scorer", "novelty"]);
    assert!(output.status.success(), "{output:?}");
    for k in 0..3 {
        for file in ["mask.png", "confidence.npy", "boxes.json", "overlay.png"] {
            assert!(
                out.join(format!("f{k}")).join(file).is_file(),
                "f{k}/{file}"
            );
        }
    }
    let normal = dir.join("f0.png");
    let normal = normal.to_str().unwrap();
    let output = run(&["--scorer", "novelty", "--normal", normal]);
    assert!(output.status.success(), "{output:?}");
    assert_fails_with(
        &run(&["--normal", normal]),
        "--normal goes with --scorer novelty",
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

/// The RPL network (the tiny checkpoint the scorer reference writes) scores
/// the frame beside SAM's encoder.
#[test]
fn a_network_scorer_runs_beside_the_encoder() {
    let dir = temp_dir("segment-rpl-in");
    let out = temp_dir("segment-rpl-out");
    let image = dir.join("frame.png");
    frame(96, 64).save(&image).unwrap();
    let scorer = format!("rpl={}", fixture("scorer_rpl_tiny.pth").display());
    let output = segment_with_tiny_generator(
        &[image.as_os_str(), "--scorer".as_ref(), scorer.as_ref()],
        &out,
    );
    assert!(output.status.success(), "{output:?}");
    let boxes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("frame/boxes.json")).unwrap()).unwrap();
    assert!(boxes["detections"].is_array(), "{boxes}");
    let timings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("timings.json")).unwrap()).unwrap();
    let seconds = &timings["images"][0]["seconds"];
    assert!(seconds["scorer"].as_f64().unwrap() > 0.0, "{timings}");
    assert!(
        seconds["scorer_and_encoder"].as_f64().unwrap() > 0.0,
        "{timings}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}
