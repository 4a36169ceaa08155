//! The `s2m` binary end to end: a real mask, and every bad input reported
//! as a message with a non-zero exit code, never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_fails_with, fixture, segment_with_tiny_generator, temp_dir, weights_dir};

fn s2m(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s2m"))
        .args(args)
        .output()
        .unwrap()
}

/// `s2m sam --image IMAGE --box BOX --out OUT --weights-dir WEIGHTS`.
fn sam(image: &Path, b: &str, out: &Path, weights: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s2m"));
    cmd.arg("sam")
        .arg("--image")
        .arg(image)
        .args(["--box", b])
        .arg("--out")
        .arg(out)
        .arg("--weights-dir")
        .arg(weights);
    cmd
}

fn read_mask(path: &std::path::Path) -> Vec<bool> {
    image::open(path)
        .unwrap()
        .to_luma8()
        .into_raw()
        .into_iter()
        .map(|v| v > 127)
        .collect()
}

/// IoU of the mask at `path` with the road fixture's object.
fn iou_with_the_road_object(path: &Path) -> f64 {
    let mask = read_mask(path);
    let truth = read_mask(&fixture("road_1024x576_object_mask.png"));
    let inter = mask.iter().zip(&truth).filter(|(a, b)| **a && **b).count() as f64;
    let union = mask.iter().zip(&truth).filter(|(a, b)| **a || **b).count() as f64;
    inter / union
}

#[test]
fn sam_writes_the_mask_of_the_boxed_object() {
    let out = temp_dir("mask").join("mask.png");
    let output = sam(
        &fixture("road_1024x576.png"),
        "630,390,780,500",
        &out,
        &weights_dir(),
    )
    .output()
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let iou = iou_with_the_road_object(&out);
    assert!(iou >= 0.9, "IoU {iou}");
}

/// A BMP frame (a listed image format) in a folder whose name is not
/// UTF-8: `s2m sam` gives the PNG's mask, and `s2m segment` runs and
/// records its command line instead of panicking.
#[test]
fn a_bmp_frame_in_a_folder_not_named_in_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = temp_dir("bmp").join(std::ffi::OsStr::from_bytes(b"frames-\xff"));
    std::fs::create_dir_all(&dir).unwrap();
    let bmp = dir.join("road.bmp");
    let png = image::open(fixture("road_1024x576.png")).unwrap().to_rgb8();
    png.save(&bmp).unwrap();
    let out = dir.join("mask.png");
    let output = sam(&bmp, "630,390,780,500", &out, &weights_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let iou = iou_with_the_road_object(&out);
    assert!(iou >= 0.9, "IoU {iou}");

    // An all-background score map beside it: no box, but a clean run.
    let zeros = vec![0u8; 576 * 1024 * 4];
    std::fs::write(
        dir.join("road.npy"),
        common::npy("<f4", &[576, 1024], &zeros),
    )
    .unwrap();
    let results = dir.join("results");
    let output = segment_with_tiny_generator(&[bmp.as_os_str()], &results);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    let timings = std::fs::read_to_string(results.join("timings.json")).unwrap();
    assert!(timings.contains("frames-\u{fffd}"), "{timings}");
}

/// Frames of an extreme aspect ratio (a resized side that rounds to 0):
/// a mask of the frame's size, not a panic.
#[test]
fn thin_frames_are_segmented() {
    let dir = temp_dir("thin");
    for (w, h) in [(3000, 1), (1, 3000), (4100, 2)] {
        let path = dir.join(format!("{w}x{h}.png"));
        image::RgbImage::from_pixel(w, h, image::Rgb([120, 120, 120]))
            .save(&path)
            .unwrap();
        let out = dir.join(format!("{w}x{h}-mask.png"));
        let output = sam(&path, "0,0,1,1", &out, &weights_dir())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !stderr.contains("panicked"),
            "{w}x{h}: {stderr}"
        );
        let mask = image::open(&out).unwrap();
        assert_eq!((mask.width(), mask.height()), (w, h));
    }
}

/// Arguments that cannot work get a message naming what is wrong before
/// any model runs.
#[test]
fn unusable_arguments_are_clear_messages() {
    let image = fixture("road_1024x576.png");
    let dir = temp_dir("arguments");
    let image_arg = image.to_str().unwrap();
    let negative = s2m(&[
        "sam",
        "--image",
        image_arg,
        "--box",
        "-5,0,10,10",
        "--out",
        "/tmp/x.png",
    ]);
    assert_fails_with(
        &negative,
        "box -5,0,10,10 reaches outside the 1024x576 image",
    );
    let folder = s2m(&[
        "sam",
        "--image",
        image_arg,
        "--box",
        "5,0,10,10",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_fails_with(&folder, "is a folder; give the mask's file name");
    let size = s2m(&[
        "segment",
        image_arg,
        "--generator-size",
        "-1",
        "--out",
        "/tmp/x",
    ]);
    assert_fails_with(
        &size,
        "`-1`: the generator size is a whole number of pixels from 1 to 8192",
    );
    let maps = s2m(&[
        "segment",
        image_arg,
        "--score-maps",
        image_arg,
        "--out",
        "/tmp/x",
    ]);
    assert_fails_with(&maps, "is not a folder");
}

/// A generator size whose map would not fit in memory is refused with a
/// message (it used to abort or panic).
#[test]
fn a_huge_generator_size_is_a_message() {
    let dir = temp_dir("generator-size");
    image::RgbImage::from_pixel(64, 48, image::Rgb([120, 120, 120]))
        .save(dir.join("f.png"))
        .unwrap();
    let zeros = vec![0u8; 64 * 48 * 4];
    std::fs::write(dir.join("f.npy"), common::npy("<f4", &[48, 64], &zeros)).unwrap();
    // 8192 on a 48x64 map: a 8192x10923 input, over 64 Mpixels.
    let image = dir.join("f.png");
    let args = [
        image.as_os_str(),
        "--generator-size".as_ref(),
        "8192".as_ref(),
    ];
    let output = segment_with_tiny_generator(&args, &dir.join("out"));
    assert_fails_with(&output, "choose a smaller generator size");
    for size in ["100000", "18446744073709551615"] {
        let output = s2m(&[
            "segment",
            "x.png",
            "--generator-size",
            size,
            "--out",
            "/tmp/x",
        ]);
        assert_fails_with(&output, "from 1 to 8192");
    }
}

/// A FIFO named like an image or a score map is refused at once (reading
/// it used to wait forever for a writer).
#[test]
fn a_fifo_input_is_a_message_not_a_hang() {
    let dir = temp_dir("fifo");
    let fifo = dir.join("x.png");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut child = sam(&fifo, "0,0,4,4", &dir.join("m.png"), &weights_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("s2m sam still waits on a FIFO after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_fails_with(&child.wait_with_output().unwrap(), "is not a regular file");
}

#[test]
fn a_corrupt_image_is_a_message() {
    let path = temp_dir("corrupt").join("frame.png");
    let mut bytes = std::fs::read(fixture("road_1024x576.png")).unwrap();
    bytes.truncate(bytes.len() / 3);
    std::fs::write(&path, bytes).unwrap();
    let output = sam(&path, "1,1,9,9", Path::new("/dev/null"), &weights_dir())
        .output()
        .unwrap();
    assert_fails_with(&output, "frame.png is not a readable image");
}

/// A PNG header announcing a 100000 x 100000 image (no pixel data).
fn huge_png_header() -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    png
}

#[test]
fn a_huge_image_is_refused_before_decoding() {
    let path = temp_dir("huge").join("huge.png");
    std::fs::write(&path, huge_png_header()).unwrap();
    let output = sam(&path, "1,1,9,9", Path::new("/dev/null"), &weights_dir())
        .output()
        .unwrap();
    assert_fails_with(&output, "larger than 16384x16384");
}

#[test]
fn a_box_outside_the_image_is_a_message() {
    let image = fixture("road_1024x576.png");
    let run = |b: &str| {
        sam(&image, b, Path::new("/dev/null"), &weights_dir())
            .output()
            .unwrap()
    };
    assert_fails_with(
        &run("600,400,1100,500"),
        "reaches outside the 1024x576 image",
    );
    assert_fails_with(&run("600,400,500,500"), "x0 < x1");
}

#[test]
fn missing_weights_say_how_to_get_them() {
    let empty = temp_dir("no-weights");
    let output = sam(
        &fixture("road_1024x576.png"),
        "1,1,9,9",
        Path::new("/dev/null"),
        &empty,
    )
    .output()
    .unwrap();
    assert_fails_with(&output, "s2m weights fetch");
}

#[test]
fn corrupt_weights_are_named() {
    let dir = temp_dir("bad-weights");
    let checkpoint = fixture("sam_vit_tiny.pth");
    let output = s2m(&[
        "weights",
        "convert",
        checkpoint.to_str().unwrap(),
        "--model",
        "mobile_sam",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = || {
        sam(
            &fixture("road_1024x576.png"),
            "1,1,9,9",
            Path::new("/dev/null"),
            &dir,
        )
        .output()
        .unwrap()
    };
    // Truncate the converted file: the manifest's size check names it.
    let file = dir.join("mobile_sam.f32.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
    assert_fails_with(&run(), "mobile_sam.f32.safetensors: size is");
    // Same size, other bytes: the sha256 check names it.
    let mut altered = bytes.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0xff;
    std::fs::write(&file, &altered).unwrap();
    assert_fails_with(&run(), "mobile_sam.f32.safetensors: sha256");
    // Intact file of the wrong model (a tiny ViT named mobile_sam): the
    // first tensor of the wrong shape is named.
    std::fs::write(&file, &bytes).unwrap();
    assert_fails_with(&run(), "mobile_sam.f32.safetensors: tensor `image_encoder.");
}

#[test]
fn a_file_that_is_not_a_checkpoint_is_a_message() {
    let dir = temp_dir("not-a-checkpoint");
    let path = dir.join("model.pth");
    std::fs::write(&path, b"definitely not a checkpoint").unwrap();
    let output = s2m(&[
        "weights",
        "convert",
        path.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_fails_with(&output, "model.pth: not a readable PyTorch checkpoint");
}

/// Asking wgpu for a discrete GPU where there is none (as on CI) must be a
/// message naming the problem; where one exists, the command just works.
#[test]
fn a_missing_gpu_adapter_is_a_message() {
    let out = temp_dir("no-adapter").join("mask.png");
    let output = sam(
        &fixture("road_1024x576.png"),
        "630,390,780,500",
        &out,
        &weights_dir(),
    )
    .args(["--backend", "wgpu"])
    .env("CUBECL_WGPU_DEFAULT_DEVICE", "DiscreteGpu(0)")
    .output()
    .unwrap();
    if !output.status.success() {
        assert_fails_with(&output, "no usable GPU adapter for the wgpu backend");
    }
}

#[test]
fn synthesize_writes_pictures_maps_and_boxes_that_segment_reads() {
    let out = temp_dir("synthesize");
    let output = s2m(&[
        "synthesize",
        "--out",
        out.to_str().unwrap(),
        "--count",
        "3",
        "--height",
        "64",
        "--width",
        "96",
        "--min-object-size",
        "12",
    ]);
    assert!(output.status.success(), "{output:?}");
    for k in 0..3 {
        let stem = out.join(format!("scene-{k:03}"));
        let picture = image::open(stem.with_extension("png")).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (96, 64));
        let bytes = std::fs::read(stem.with_extension("npy")).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(npy.shape(), &[64, 96]);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(stem.with_extension("json")).unwrap()).unwrap();
        assert!(json["boxes"].is_array());
        let mask = image::open(stem.with_extension("mask.png"))
            .unwrap()
            .to_luma8();
        assert_eq!(mask.dimensions(), (96, 64));
        // The mask is the pasted objects: object pixels differ from the road.
        let boxes = json["boxes"].as_array().unwrap();
        assert_eq!(mask.pixels().any(|p| p.0[0] == 255), !boxes.is_empty());
    }
    std::fs::remove_dir_all(&out).unwrap();
}
