//! The element losses of the detector's training, written out so that
//! their reduction matches detectron2's.

use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// `sum(max(x, 0) - x * y + ln(1 + exp(-|x|)))`: binary cross-entropy of
/// logits `x` against labels `y`, numerically stable, summed; `[1]`.
pub fn binary_cross_entropy_with_logits_sum(logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1> {
    let stable = logits.clone().abs().neg().exp().add_scalar(1.0).log();
    (relu(logits.clone()) - logits * labels + stable).sum()
}

/// `sum(|a - b|)`; `[1]`.
pub fn l1_sum<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).abs().sum()
}

/// Regression targets `[N, 4]` on `device`.
pub fn deltas_tensor(deltas: &[[f32; 4]], device: &Device) -> Tensor<2> {
    let values: Vec<f32> = deltas.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(values, [deltas.len(), 4]), device)
}

/// Mean cross-entropy of `logits` `[N, C]` against class indices `[N]`; `[1]`.
pub fn cross_entropy_mean(logits: Tensor<2>, classes: Tensor<1, Int>) -> Tensor<1> {
    let n = classes.dims()[0];
    log_softmax(logits, 1)
        .gather(1, classes.reshape([n, 1]))
        .neg()
        .mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_losses_match_their_formulas() {
        let device = Device::flex();
        let logits = Tensor::<1>::from_floats([2.0, -1.0], &device);
        let labels = Tensor::<1>::from_floats([1.0, 0.0], &device);
        // ln(1 + e^-2) + ln(1 + e^-1)
        let expected = (1.0 + (-2.0f32).exp()).ln() + (1.0 + (-1.0f32).exp()).ln();
        let bce = binary_cross_entropy_with_logits_sum(logits, labels).into_scalar::<f32>();
        assert!((bce - expected).abs() < 1e-5);

        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 1.0, 0.0], [2, 2]),
            &device,
        );
        let classes = Tensor::<1, Int>::from_ints([0, 0], &device);
        let ce = cross_entropy_mean(logits, classes).into_scalar::<f32>();
        let expected = (2f32.ln() + (1.0 + (-1.0f32).exp()).ln()) / 2.0;
        assert!((ce - expected).abs() < 1e-5, "{ce} vs {expected}");
    }
}
