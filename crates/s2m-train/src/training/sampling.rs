//! Choosing which matched predictions enter the loss, as detectron2's
//! `modeling/sampling.py::subsample_labels`: at most
//! `batch_size * positive_fraction` foreground predictions chosen at
//! random, background ones filling the rest of the batch, ignored ones
//! never.

use rand::Rng;
use rand::seq::index::sample;

use super::matcher::{Match, MatchLabel};

/// Indices of the sampled foreground and background predictions.
pub fn subsample(
    matches: &[Match],
    batch_size: usize,
    positive_fraction: f32,
    rng: &mut impl Rng,
) -> (Vec<usize>, Vec<usize>) {
    let with_label = |label| -> Vec<usize> {
        (0..matches.len())
            .filter(|&i| matches[i].label == label)
            .collect()
    };
    let foreground = with_label(MatchLabel::Foreground);
    let background = with_label(MatchLabel::Background);
    let max_foreground = (batch_size as f32 * positive_fraction) as usize;
    let foreground_count = foreground.len().min(max_foreground);
    let background_count = background.len().min(batch_size - foreground_count);
    let pick = |pool: &[usize], count: usize, rng: &mut _| -> Vec<usize> {
        sample(rng, pool.len(), count)
            .into_iter()
            .map(|i| pool[i])
            .collect()
    };
    (
        pick(&foreground, foreground_count, rng),
        pick(&background, background_count, rng),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn labelled(labels: &[MatchLabel]) -> Vec<Match> {
        labels
            .iter()
            .map(|&label| Match {
                ground_truth: 0,
                label,
            })
            .collect()
    }

    #[test]
    fn positives_are_capped_and_negatives_fill_the_batch() {
        use MatchLabel::*;
        let mut labels = vec![Foreground; 10];
        labels.extend(vec![Background; 100]);
        labels.extend(vec![Ignored; 50]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (fg, bg) = subsample(&labelled(&labels), 16, 0.25, &mut rng);
        assert_eq!((fg.len(), bg.len()), (4, 12));
        assert!(fg.iter().all(|&i| i < 10));
        assert!(bg.iter().all(|&i| (10..110).contains(&i)));
    }

    #[test]
    fn few_positives_leave_room_for_negatives() {
        use MatchLabel::*;
        let mut labels = vec![Foreground; 2];
        labels.extend(vec![Background; 3]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (fg, bg) = subsample(&labelled(&labels), 256, 0.5, &mut rng);
        assert_eq!((fg.len(), bg.len()), (2, 3));
    }
}
