//! Box regression deltas as detectron2's `Box2BoxTransform` (and
//! torchvision's `BoxCoder`, identical here): deltas `(dx, dy, dw, dh)`
//! divided by the weights, `dw`/`dh` clamped at `ln(1000 / 16)`, applied to
//! the box centre and size; `x1 = cx + w / 2` (no legacy `- 1`). Training
//! encodes targets the inverse way ([`get_deltas`]).

use burn::tensor::Tensor;

/// Largest log-scale a delta may apply (`_DEFAULT_SCALE_CLAMP`).
pub fn scale_clamp() -> f64 {
    (1000.0f64 / 16.0).ln()
}

/// Applies `deltas` `[N, 4]` to `boxes` `[N, 4]` (XYXY); returns `[N, 4]`.
pub fn apply_deltas(deltas: Tensor<2>, boxes: Tensor<2>, weights: [f32; 4]) -> Tensor<2> {
    let col = |t: &Tensor<2>, i: usize| t.clone().narrow(1, i, 1);
    let widths = col(&boxes, 2) - col(&boxes, 0);
    let heights = col(&boxes, 3) - col(&boxes, 1);
    let ctr_x = col(&boxes, 0) + widths.clone().mul_scalar(0.5);
    let ctr_y = col(&boxes, 1) + heights.clone().mul_scalar(0.5);
    let dx = col(&deltas, 0).div_scalar(weights[0] as f64);
    let dy = col(&deltas, 1).div_scalar(weights[1] as f64);
    let dw = col(&deltas, 2)
        .div_scalar(weights[2] as f64)
        .clamp_max(scale_clamp());
    let dh = col(&deltas, 3)
        .div_scalar(weights[3] as f64)
        .clamp_max(scale_clamp());
    let pred_ctr_x = dx * widths.clone() + ctr_x;
    let pred_ctr_y = dy * heights.clone() + ctr_y;
    let half_w = dw.exp() * widths.mul_scalar(0.5);
    let half_h = dh.exp() * heights.mul_scalar(0.5);
    Tensor::cat(
        vec![
            pred_ctr_x.clone() - half_w.clone(),
            pred_ctr_y.clone() - half_h.clone(),
            pred_ctr_x + half_w,
            pred_ctr_y + half_h,
        ],
        1,
    )
}

/// The deltas that [`apply_deltas`] turns `source` into `target` with
/// (`Box2BoxTransform.get_deltas`), both XYXY with positive sides.
pub fn get_deltas(source: &[f32; 4], target: &[f32; 4], weights: [f32; 4]) -> [f32; 4] {
    let centre_and_size = |b: &[f32; 4]| {
        (
            (b[0] + b[2]) / 2.0,
            (b[1] + b[3]) / 2.0,
            b[2] - b[0],
            b[3] - b[1],
        )
    };
    let (sx, sy, sw, sh) = centre_and_size(source);
    let (tx, ty, tw, th) = centre_and_size(target);
    [
        weights[0] * (tx - sx) / sw,
        weights[1] * (ty - sy) / sh,
        weights[2] * (tw / sw).ln(),
        weights[3] * (th / sh).ln(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn zero_deltas_keep_the_box_and_deltas_move_and_scale_it() {
        let device = Device::flex();
        let boxes = Tensor::<2>::from_data(
            TensorData::new(
                vec![10.0f32, 20.0, 30.0, 60.0, 10.0, 20.0, 30.0, 60.0],
                [2, 4],
            ),
            &device,
        );
        // Box 2: dx = 1 (weighted 10 -> 0.1 of the width 20 = 2 px), dw = ln 2 * 5.
        let deltas = Tensor::<2>::from_data(
            TensorData::new(
                vec![0.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 5.0 * 2f32.ln(), 0.0],
                [2, 4],
            ),
            &device,
        );
        let out = apply_deltas(deltas, boxes, [10.0, 10.0, 5.0, 5.0])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let expected = [10.0, 20.0, 30.0, 60.0, 2.0, 20.0, 42.0, 60.0];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{out:?}");
        }
    }

    #[test]
    fn get_deltas_inverts_apply_deltas() {
        let device = Device::flex();
        let (source, target) = ([10.0f32, 20.0, 30.0, 60.0], [12.0f32, 18.0, 50.0, 70.0]);
        let weights = [10.0, 10.0, 5.0, 5.0];
        let deltas = get_deltas(&source, &target, weights);
        let out = apply_deltas(
            Tensor::<2>::from_data(TensorData::new(deltas.to_vec(), [1, 4]), &device),
            Tensor::<2>::from_data(TensorData::new(source.to_vec(), [1, 4]), &device),
            weights,
        )
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
        for (a, b) in out.iter().zip(target) {
            assert!((a - b).abs() < 1e-4, "{out:?}");
        }
    }

    #[test]
    fn huge_size_deltas_are_clamped() {
        let device = Device::flex();
        let boxes = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 16.0, 16.0], [1, 4]),
            &device,
        );
        let deltas = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 100.0, 100.0], [1, 4]),
            &device,
        );
        let out = apply_deltas(deltas, boxes, [1.0; 4])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // Width 16 * 1000/16 = 1000, centred on 8.
        assert!((out[2] - out[0] - 1000.0).abs() < 1e-2, "{out:?}");
    }
}
