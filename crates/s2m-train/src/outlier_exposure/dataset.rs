//! An OE set: sample `i` pastes a randomly drawn object onto inlier image
//! `i mod n`, so one pass over `0..n` uses every inlier image once, as an
//! epoch of the reference's `CityscapesCocoMix` does (its `__getitem__`
//! takes Cityscapes image `idx` and a random COCO image). Each sample draws
//! from its own ChaCha8 stream (`seed`, stream `i`): samples are
//! reproducible one by one, in any order, on any platform.

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::object::OeObject;
use super::paste::{OeConfig, OeSample, compose};
use super::{OeError, open_rgb};

/// Where the pasted objects come from.
pub trait ObjectSource {
    /// Number of objects.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Object `index` (`< len()`), cut out by its box.
    fn object(&self, index: usize) -> Result<OeObject, OeError>;
    /// A stable name of object `index`, for cache keys.
    fn describe(&self, index: usize) -> String;
}

/// Inlier images, objects and the recipe's knobs.
pub struct OeDataset<'a> {
    config: OeConfig,
    inliers: Vec<PathBuf>,
    objects: &'a dyn ObjectSource,
}

impl<'a> OeDataset<'a> {
    /// Checks the config and that there are images and objects.
    pub fn new(
        config: OeConfig,
        inliers: Vec<PathBuf>,
        objects: &'a dyn ObjectSource,
    ) -> Result<Self, OeError> {
        config.validate()?;
        if inliers.is_empty() || objects.is_empty() {
            return Err(OeError::InvalidConfig {
                knob: "dataset",
                problem: format!(
                    "needs inlier images and objects, got {} and {}",
                    inliers.len(),
                    objects.len()
                ),
            });
        }
        Ok(Self {
            config,
            inliers,
            objects,
        })
    }

    pub fn config(&self) -> &OeConfig {
        &self.config
    }

    /// Number of inlier images: the samples of one pass.
    pub fn len(&self) -> usize {
        self.inliers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inliers.is_empty()
    }

    /// Sample `index`: the same config, inputs and index give the same
    /// sample.
    pub fn sample(&self, index: usize) -> Result<OeSample, OeError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        rng.set_stream(index as u64);
        let object = self
            .objects
            .object(rng.random_range(0..self.objects.len()))?;
        let inlier = open_rgb(&self.inliers[index % self.inliers.len()])?;
        Ok(compose(&self.config, &inlier, &object, &mut rng))
    }

    /// SHA-256 (hex) of everything a sample depends on: the config with
    /// its seed, the inlier paths and the objects' names.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(serde_json::to_vec(&self.config).expect("the config serialises"));
        for inlier in &self.inliers {
            hash.update(inlier.to_string_lossy().as_bytes());
            hash.update([0]);
        }
        for i in 0..self.objects.len() {
            hash.update(self.objects.describe(i).as_bytes());
            hash.update([0]);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlier_exposure::test_data::{Squares, write_png};

    #[test]
    fn samples_are_reproducible_one_by_one_and_cycle_over_the_inliers() {
        let dir = tempfile::tempdir().unwrap();
        let inliers: Vec<_> = (0..2)
            .map(|i| {
                let path = dir.path().join(format!("{i}.png"));
                write_png(&path, 30, 40, [i as u8 * 100, 50, 50]);
                path
            })
            .collect();
        let objects = Squares(3);
        let config = OeConfig {
            height: 24,
            width: 32,
            scales: vec![4.0],
            seed: 7,
            ..OeConfig::default()
        };
        let set = OeDataset::new(config.clone(), inliers.clone(), &objects).unwrap();
        let later = set.sample(3).unwrap();
        let first = set.sample(0).unwrap();
        assert_eq!(set.sample(3).unwrap(), later);
        assert_ne!(first, later);
        // Sample 3 sits on inlier 1: its background is (100, 50, 50).
        let bg = later
            .mask
            .enumerate_pixels()
            .find(|p| p.2.0[0] == 0)
            .unwrap();
        assert_eq!(later.image.get_pixel(bg.0, bg.1).0, [100, 50, 50]);
        assert!(later.label.is_some());

        let other_seed = OeDataset::new(OeConfig { seed: 8, ..config }, inliers, &objects).unwrap();
        assert_ne!(set.fingerprint(), other_seed.fingerprint());
        assert_eq!(set.fingerprint().len(), 64);
    }

    #[test]
    fn an_empty_dataset_is_rejected() {
        let objects = Squares(0);
        let err = OeDataset::new(OeConfig::default(), vec![], &objects)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("needs inlier images and objects"),
            "{err}"
        );
    }
}
