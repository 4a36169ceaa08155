//! A 2-D float field (row-major) and the two operations the synthesis
//! builds on: smooth value noise (a coarse random grid upsampled by a cubic
//! B-spline) and a separable Gaussian blur. Both cost a few operations per
//! pixel whatever the scale, so a 512 x 1024 map stays in the millisecond
//! range.

use super::sampling::SynthRng;
use rand::Rng;

/// The uniform cubic B-spline halves the standard deviation of independent
/// uniform grid values in 2-D (0.29 to about 0.14); this brings it to about
/// 0.25, clamping the few values pushed past 0 or 1.
const NOISE_STRETCH: f32 = 1.75;

/// Row-major `height x width` floats.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Field {
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Field {
    /// A field with every value `value` (tests build inputs with it).
    #[cfg(test)]
    pub fn filled(height: usize, width: usize, value: f32) -> Self {
        Self {
            height,
            width,
            data: vec![value; height * width],
        }
    }

    /// Smooth noise in `[0, 1]`: independent uniform values on a grid of
    /// `cell` x `cell` pixel cells, interpolated by a cubic B-spline (smooth
    /// everywhere, so no grid shows, unlike bilinear or smoothstep
    /// interpolation). The spline averages neighbouring grid values, so the
    /// result is stretched back about 0.5 (standard deviation about 0.25)
    /// and clamped.
    pub fn value_noise(rng: &mut SynthRng, height: usize, width: usize, cell: f32) -> Self {
        let cell = cell.max(1.0);
        let grid_h = (height as f32 / cell).ceil() as usize + 4;
        let grid_w = (width as f32 / cell).ceil() as usize + 4;
        let grid: Vec<f32> = (0..grid_h * grid_w).map(|_| rng.random::<f32>()).collect();
        // A random sub-cell offset so that grid points fall anywhere.
        let off_y = rng.random::<f32>();
        let off_x = rng.random::<f32>();
        // Per output coordinate: the first of its four grid points and
        // their weights.
        let axis = |n: usize, off: f32| -> Vec<(usize, [f32; 4])> {
            (0..n)
                .map(|i| {
                    let t = (i as f32 + 0.5) / cell + off;
                    (t.floor() as usize, bspline(t - t.floor()))
                })
                .collect()
        };
        // Along x for every grid row, then along y for every pixel.
        let xs = axis(width, off_x);
        let mut rows = Vec::with_capacity(grid_h * width);
        for grid_row in grid.chunks_exact(grid_w) {
            rows.extend(xs.iter().map(|&(k, w)| dot4(w, &grid_row[k..k + 4])));
        }
        let mut data = vec![0.0; height * width];
        for ((k, w), out) in axis(height, off_y)
            .into_iter()
            .zip(data.chunks_exact_mut(width))
        {
            for (j, &wj) in w.iter().enumerate() {
                let row = &rows[(k + j) * width..(k + j + 1) * width];
                out.iter_mut().zip(row).for_each(|(o, r)| *o += wj * r);
            }
        }
        for v in &mut data {
            *v = (0.5 + NOISE_STRETCH * (*v - 0.5)).clamp(0.0, 1.0);
        }
        Self {
            height,
            width,
            data,
        }
    }

    /// The value at row `y`, column `x`.
    pub fn at(&self, y: usize, x: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Gaussian blur with standard deviation `sigma` pixels, kernel radius
    /// `ceil(3 sigma)` (sigma 1: the 7-tap kernel of the RPL/PEBAL score
    /// blur), edges replicated. `sigma <= 0` leaves the field unchanged.
    pub fn blur(&mut self, sigma: f32) {
        if sigma <= 0.0 || self.data.is_empty() {
            return;
        }
        let radius = (3.0 * sigma).ceil() as usize;
        let mut kernel: Vec<f32> = (0..=2 * radius)
            .map(|i| {
                let d = i as f32 - radius as f32;
                (-d * d / (2.0 * sigma * sigma)).exp()
            })
            .collect();
        let total: f32 = kernel.iter().sum();
        kernel.iter_mut().for_each(|k| *k /= total);

        let (h, w) = (self.height, self.width);
        // Horizontal pass, one row at a time through a padded copy.
        let mut padded = vec![0.0; w + 2 * radius];
        let mut tmp = vec![0.0; h * w];
        for y in 0..h {
            let row = &self.data[y * w..(y + 1) * w];
            padded[..radius].fill(row[0]);
            padded[radius..radius + w].copy_from_slice(row);
            padded[radius + w..].fill(row[w - 1]);
            let out = &mut tmp[y * w..(y + 1) * w];
            for (x, o) in out.iter_mut().enumerate() {
                *o = kernel
                    .iter()
                    .zip(&padded[x..x + kernel.len()])
                    .map(|(k, v)| k * v)
                    .sum();
            }
        }
        // Vertical pass: each output row accumulates whole input rows.
        for y in 0..h {
            let out = &mut self.data[y * w..(y + 1) * w];
            out.fill(0.0);
            for (i, &k) in kernel.iter().enumerate() {
                let src = (y + i).saturating_sub(radius).min(h - 1);
                let row = &tmp[src * w..(src + 1) * w];
                out.iter_mut().zip(row).for_each(|(o, v)| *o += k * v);
            }
        }
    }
}

/// The uniform cubic B-spline weights of the four grid points around a
/// position `t` in `[0, 1)` past the second one.
fn bspline(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        (1.0 - t).powi(3) / 6.0,
        (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0,
        (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0,
        t3 / 6.0,
    ]
}

fn dot4(w: [f32; 4], v: &[f32]) -> f32 {
    w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn value_noise_is_smooth_and_in_unit_range() {
        let mut rng = SynthRng::seed_from_u64(1);
        let f = Field::value_noise(&mut rng, 64, 96, 16.0);
        assert!(f.data.iter().all(|v| (0.0..=1.0).contains(v)));
        // Neighbouring pixels differ by far less than the full range.
        let max_step = (0..64)
            .flat_map(|y| (1..96).map(move |x| (y, x)))
            .map(|(y, x)| (f.at(y, x) - f.at(y, x - 1)).abs())
            .fold(0.0f32, f32::max);
        assert!(max_step < 0.15, "step {max_step}");
        // Spread about 0.5 like the uniform grid values it interpolates.
        let f = Field::value_noise(&mut rng, 256, 256, 8.0);
        let n = f.data.len() as f32;
        let mean = f.data.iter().sum::<f32>() / n;
        let std = (f.data.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(
            (mean - 0.5).abs() < 0.03 && (0.2..0.3).contains(&std),
            "{mean} {std}"
        );
    }

    #[test]
    fn blur_keeps_mass_and_spreads_an_impulse() {
        let mut f = Field::filled(21, 21, 0.0);
        f.data[10 * 21 + 10] = 1.0;
        f.blur(1.0);
        let total: f32 = f.data.iter().sum();
        assert!((total - 1.0).abs() < 1e-5);
        // Symmetric, falling away from the centre, zero past the radius.
        assert!((f.at(10, 9) - f.at(10, 11)).abs() < 1e-7);
        assert!((f.at(9, 10) - f.at(10, 9)).abs() < 1e-7);
        assert!(f.at(10, 10) > f.at(10, 11) && f.at(10, 11) > f.at(10, 12));
        assert_eq!(f.at(10, 14), 0.0);
    }

    #[test]
    fn blur_leaves_a_constant_field_constant() {
        let mut f = Field::filled(5, 7, 0.25);
        f.blur(2.0);
        assert!(f.data.iter().all(|v| (v - 0.25).abs() < 1e-6));
    }
}
