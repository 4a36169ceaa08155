//! The anomaly scorer against `tests/reference/scorer_reference.py` (RPL's
//! and PEBAL's DeepWV3Plus rebuilt in PyTorch, float64, random weights with
//! non-trivial BatchNorm statistics, reduced widths, the published block
//! structure): checkpoints in RPL's layout (`{"model": {"branch1.*"}}`,
//! residual anomaly block, 19 classes) and a DataParallel PEBAL layout
//! (`module.branch1.*`, 20 classes) converted by s2m-weights, loaded with
//! the configuration their shapes give, and run on 50x66 images (odd sizes
//! at every stride).
//!
//! Tolerances: logits and every score map relative L2 < 1e-4; the input
//! normalisation within 1e-5. Plus the full-size layouts, and the errors
//! that wrong or damaged weights give.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::module::Module;
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use common::*;
use s2m_core::scorer::blur::gaussian_blur;
use s2m_core::scorer::input::image_to_input;
use s2m_core::scorer::{DeepWv3Plus, ScoreFunction, ScorerConfig};
use s2m_core::weights::{WeightsLoadError, load_scorer, scorer_config_of};
use s2m_weights::StorageDType;
use s2m_weights::checkpoint::NamedTensor;
use s2m_weights::convert::{convert_checkpoint, to_safetensors_bytes};
use s2m_weights::key_map::official_to_ours;

/// The reduced ASPP dilations of the fixture (shapes cannot tell them).
const FIXTURE_ASPP_RATES: [usize; 3] = [2, 4, 6];

/// Converts `scorer_<name>_tiny.pth` (model recognised from its tensors)
/// and returns the f32 file's name and bytes.
fn convert_reference(name: &str) -> (String, Vec<u8>) {
    // Tests run in parallel: each conversion gets its own directory.
    static CONVERSIONS: AtomicUsize = AtomicUsize::new(0);
    let n = CONVERSIONS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("s2m-scorer-{name}-{}-{n}", std::process::id()));
    let entries = convert_checkpoint(
        &fixture_path(&format!("scorer_{name}_tiny.pth")),
        &dir,
        None,
    )
    .unwrap();
    let f32_file = entries
        .iter()
        .find(|e| e.name.ends_with(".f32.safetensors"))
        .unwrap();
    let bytes = std::fs::read(dir.join(&f32_file.name)).unwrap();
    (f32_file.name.clone(), bytes)
}

fn load_reference(name: &str, device: &Device) -> DeepWv3Plus {
    let (file, bytes) = convert_reference(name);
    let config = ScorerConfig {
        aspp_rates: FIXTURE_ASPP_RATES,
        ..scorer_config_of(&bytes, &file).unwrap()
    };
    load_scorer(&config, bytes, &file, device).unwrap()
}

fn check_close(what: &str, actual: &[f32], expected: &[f32]) {
    let error = relative_l2(actual, expected);
    eprintln!(
        "{what}: relative L2 {error:.2e}, max abs {:.2e}",
        max_abs_diff(actual, expected)
    );
    assert!(error < 1e-4, "{what}: relative L2 {error:.2e}");
}

/// The network input from the fixture's RGB images, checked against the
/// reference's normalisation.
fn input_of(fx: &Fixture, name: &str, device: &Device) -> burn::tensor::Tensor<4> {
    let (shape, rgb) = fx.u8s(&format!("{name}.image"));
    let [b, h, w] = [shape[0], shape[1], shape[2]];
    let per_image = h * w * 3;
    let images = (0..b)
        .map(|i| image_to_input(&rgb[i * per_image..(i + 1) * per_image], h, w, device))
        .collect();
    let input = burn::tensor::Tensor::cat(images, 0);
    let expected = fx.f32s(&format!("{name}.input")).1;
    let diff = max_abs_diff(&to_vec(input.clone()), &expected);
    assert!(diff < 1e-5, "{name}: input normalisation off by {diff:.1e}");
    input
}

#[test]
fn configurations_are_inferred_from_the_checkpoints() {
    let (file, bytes) = convert_reference("rpl");
    assert_eq!(file, "scorer_rpl.f32.safetensors");
    let rpl = scorer_config_of(&bytes, &file).unwrap();
    let expected = ScorerConfig {
        stem_channels: 8,
        blocks: [3, 3, 6, 3, 1, 1],
        widths: [
            vec![8, 8],
            vec![8, 16],
            vec![16, 16],
            vec![12, 24],
            vec![8, 16, 32],
            vec![16, 24, 40],
        ],
        aspp_channels: 8,
        aspp_rates: ScorerConfig::rpl().aspp_rates,
        fine_channels: 6,
        decoder_channels: 12,
        head_channels: 10,
        num_classes: 19,
        residual_channels: Some(14),
    };
    assert_eq!(rpl, expected);
    let (file, bytes) = convert_reference("pebal");
    assert_eq!(file, "scorer_pebal.f32.safetensors");
    let pebal = scorer_config_of(&bytes, &file).unwrap();
    assert_eq!(
        pebal,
        ScorerConfig {
            num_classes: 20,
            residual_channels: None,
            ..expected
        }
    );
}

#[test]
fn rpl_matches_the_pytorch_reference() {
    let fx = Fixture::open("scorer_parity.safetensors");
    for (backend, device) in devices() {
        let scorer = load_reference("rpl", &device);
        let input = input_of(&fx, "rpl", &device);
        let logits = scorer.forward(input);
        let (shape, expected) = fx.f32s("rpl.logits");
        assert_eq!(logits.dims().to_vec(), shape);
        check_close(
            &format!("rpl {backend:?} logits"),
            &to_vec(logits.clone()),
            &expected,
        );
        for (key, function) in [
            ("energy", ScoreFunction::default()),
            ("energy_t2", ScoreFunction::Energy { temperature: 2.0 }),
            ("entropy", ScoreFunction::Entropy),
            ("max_logit", ScoreFunction::MaxLogit),
            ("max_softmax", ScoreFunction::MaxSoftmax),
        ] {
            let map = function.score(logits.clone());
            let blurred = gaussian_blur(map.clone());
            check_close(
                &format!("rpl {backend:?} {key}"),
                &to_vec(map),
                &fx.f32s(&format!("rpl.{key}")).1,
            );
            check_close(
                &format!("rpl {backend:?} {key} blurred"),
                &to_vec(blurred),
                &fx.f32s(&format!("rpl.{key}_blurred")).1,
            );
        }
    }
}

#[test]
fn pebal_matches_the_pytorch_reference() {
    let fx = Fixture::open("scorer_parity.safetensors");
    for (backend, device) in devices() {
        let scorer = load_reference("pebal", &device);
        let input = input_of(&fx, "pebal", &device);
        let logits = scorer.forward(input.clone());
        let (shape, expected) = fx.f32s("pebal.logits");
        assert_eq!(logits.dims().to_vec(), shape);
        check_close(
            &format!("pebal {backend:?} logits"),
            &to_vec(logits),
            &expected,
        );
        let map = scorer.score_map(input, ScoreFunction::default());
        assert_eq!(map.dims(), [shape[2], shape[3]]);
        check_close(
            &format!("pebal {backend:?} energy blurred"),
            &to_vec(map),
            &fx.f32s("pebal.energy_blurred").1,
        );
    }
}

/// `[name, shape]` of a full-size state dict written by the reference
/// script, mapped to our names (dropped tensors left out).
fn full_size_layout(name: &str) -> Vec<(String, Vec<usize>)> {
    let shapes: Vec<(String, Vec<usize>)> = serde_json::from_slice(
        &std::fs::read(fixture_path(&format!("scorer_{name}_shapes.json"))).unwrap(),
    )
    .unwrap();
    let mut ours: Vec<(String, Vec<usize>)> = shapes
        .into_iter()
        .filter_map(|(name, shape)| official_to_ours(&name).map(|ours| (ours, shape)))
        .collect();
    ours.sort();
    ours
}

/// The full-size RPL and PEBAL state dicts (names and shapes written by the
/// reference script) give the published configurations, and their tensors
/// are exactly our network's parameters with the same shapes. (Compared on
/// the module's parameter list: a zero-filled 170 M-value file would take
/// 0.7 GB.)
#[test]
fn full_size_layouts_match_the_default_configurations() {
    for (name, config) in [
        ("rpl", ScorerConfig::rpl()),
        ("pebal", ScorerConfig::pebal()),
    ] {
        let layout = full_size_layout(name);
        let inferred = ScorerConfig::from_tensor_shapes(
            layout.iter().map(|(n, s)| (n.as_str(), s.as_slice())),
        )
        .unwrap();
        assert_eq!(inferred, config, "{name}");
        let model = DeepWv3Plus::new(config, &Device::flex());
        let mut params: Vec<(String, Vec<usize>)> = model
            .collect(None, None, true)
            .into_iter()
            .map(|t| (t.name.clone(), t.shape.to_vec()))
            .collect();
        params.sort();
        assert_eq!(params.len(), layout.len(), "{name}");
        for (ours, theirs) in params.iter().zip(&layout) {
            assert_eq!(ours, theirs, "{name}");
        }
        eprintln!(
            "{name}: {} tensors, {} values",
            layout.len(),
            model.num_params()
        );
    }
}

#[test]
fn wrong_or_damaged_weights_are_clear_errors() {
    let (file, bytes) = convert_reference("rpl");

    // A detector's weights are not a scorer.
    let detector = vec![NamedTensor {
        name: "backbone.bottom_up.stem.conv1.weight".into(),
        shape: vec![4, 3, 7, 7],
        data: vec![0.0; 4 * 3 * 7 * 7],
    }];
    let detector = to_safetensors_bytes(&detector, StorageDType::F32).unwrap();
    let err = scorer_config_of(&detector, "generator.safetensors").unwrap_err();
    assert!(matches!(err, WeightsLoadError::NotAScorer { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("backbone.bottom_up.stem.conv1.weight"),
        "{err}"
    );

    // Truncated bytes.
    let truncated = bytes[..bytes.len() / 2].to_vec();
    let config = scorer_config_of(&bytes, &file).unwrap();
    let device = Device::flex();
    let err = load_scorer(&config, truncated.clone(), "cut.safetensors", &device).unwrap_err();
    assert!(matches!(err, WeightsLoadError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("cut.safetensors"), "{err}");
    let err = scorer_config_of(&truncated[..5], "cut.safetensors").unwrap_err();
    assert!(matches!(err, WeightsLoadError::Unreadable { .. }), "{err}");

    // PEBAL weights into RPL's configuration: the residual block is missing.
    let (pebal_file, pebal) = convert_reference("pebal");
    let err = load_scorer(&config, pebal, &pebal_file, &device).unwrap_err();
    assert!(
        matches!(&err, WeightsLoadError::BadTensor { tensor, .. } if tensor.starts_with("head.conv3"))
            || matches!(&err, WeightsLoadError::MissingTensor { tensor, .. } if tensor.starts_with("residual_block")),
        "{err}"
    );

    // A SAM-shaped file loaded as a scorer: nothing matches.
    let sam = vec![NamedTensor {
        name: "image_encoder.pos_embed".into(),
        shape: vec![1, 4, 4, 8],
        data: vec![0.0; 128],
    }];
    let sam = to_safetensors_bytes(&sam, StorageDType::F32).unwrap();
    let err = scorer_config_of(&sam, "sam.safetensors").unwrap_err();
    assert!(matches!(err, WeightsLoadError::NotAScorer { .. }), "{err}");
    let err = load_scorer(&config, sam, "sam.safetensors", &device).unwrap_err();
    assert!(
        matches!(err, WeightsLoadError::MissingTensor { .. }),
        "{err}"
    );
}
