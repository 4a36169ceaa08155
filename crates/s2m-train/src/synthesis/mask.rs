//! A binary object mask on its own small canvas, placed in the frame by the
//! position of its top-left pixel. Shapes are unions of polygons filled by
//! the pixel-centre rule; completeness degradations clear pixels.

/// `height x width` booleans (row-major) whose pixel `(0, 0)` lies at
/// frame column `x0`, row `y0` (either may be negative or past the frame:
/// objects can be cut by the frame border).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Mask {
    pub x0: i64,
    pub y0: i64,
    pub height: usize,
    pub width: usize,
    pub data: Vec<bool>,
}

impl Mask {
    /// An empty mask on a `height x width` canvas at the frame origin.
    pub fn empty(height: usize, width: usize) -> Self {
        Self {
            x0: 0,
            y0: 0,
            height,
            width,
            data: vec![false; height * width],
        }
    }

    /// Number of set pixels.
    pub fn area(&self) -> usize {
        self.data.iter().filter(|&&m| m).count()
    }

    /// Whether local pixel `(y, x)` is set.
    pub fn get(&self, y: usize, x: usize) -> bool {
        self.data[y * self.width + x]
    }

    /// Sets local pixel `(y, x)` when it lies on the canvas.
    pub fn set(&mut self, y: i64, x: i64, value: bool) {
        if (0..self.height as i64).contains(&y) && (0..self.width as i64).contains(&x) {
            self.data[y as usize * self.width + x as usize] = value;
        }
    }

    /// Sets every pixel whose centre lies inside `polygon` (local
    /// coordinates, pixel `(y, x)` spanning `[x, x + 1) x [y, y + 1)`;
    /// even-odd rule, so a simple polygon may be concave).
    pub fn fill_polygon(&mut self, polygon: &[[f32; 2]]) {
        let n = polygon.len();
        if n < 3 {
            return;
        }
        let mut crossings = Vec::with_capacity(8);
        for y in 0..self.height {
            let cy = y as f32 + 0.5;
            crossings.clear();
            for i in 0..n {
                let [ax, ay] = polygon[i];
                let [bx, by] = polygon[(i + 1) % n];
                // Half-open in y so a vertex on the scan line counts once.
                if (ay <= cy) != (by <= cy) {
                    crossings.push(ax + (cy - ay) / (by - ay) * (bx - ax));
                }
            }
            crossings.sort_by(f32::total_cmp);
            for pair in crossings.chunks_exact(2) {
                // Columns whose centre x + 0.5 lies in [pair[0], pair[1]).
                let start = (pair[0] - 0.5).ceil().max(0.0) as usize;
                let end = ((pair[1] - 0.5).ceil().max(0.0) as usize).min(self.width);
                for x in start..end {
                    self.data[y * self.width + x] = true;
                }
            }
        }
    }

    /// Clears every pixel for which `remove(y, x)` holds (local coordinates).
    pub fn clear_where(&mut self, mut remove: impl FnMut(usize, usize) -> bool) {
        for y in 0..self.height {
            for x in 0..self.width {
                if remove(y, x) {
                    self.data[y * self.width + x] = false;
                }
            }
        }
    }

    /// The tight box `[x0, y0, x1, y1)` of the set pixels in local
    /// coordinates, `None` when the mask is empty.
    pub fn bounds(&self) -> Option<[usize; 4]> {
        let mut b: Option<[usize; 4]> = None;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.get(y, x) {
                    let r = b.get_or_insert([x, y, x + 1, y + 1]);
                    r[0] = r[0].min(x);
                    r[1] = r[1].min(y);
                    r[2] = r[2].max(x + 1);
                    r[3] = r[3].max(y + 1);
                }
            }
        }
        b
    }

    /// Crops the canvas to the set pixels (keeping their frame position).
    pub fn trim(&mut self) {
        let Some([x0, y0, x1, y1]) = self.bounds() else {
            return;
        };
        let width = x1 - x0;
        let mut data = Vec::with_capacity(width * (y1 - y0));
        for y in y0..y1 {
            data.extend_from_slice(&self.data[y * self.width + x0..y * self.width + x1]);
        }
        self.x0 += x0 as i64;
        self.y0 += y0 as i64;
        self.width = width;
        self.height = y1 - y0;
        self.data = data;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_a_square_by_pixel_centres() {
        let mut m = Mask::empty(6, 6);
        m.fill_polygon(&[[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 4.0]]);
        assert_eq!(m.area(), 9);
        assert_eq!(m.bounds(), Some([1, 1, 4, 4]));
        m.trim();
        assert_eq!((m.x0, m.y0, m.width, m.height), (1, 1, 3, 3));
        assert!(m.data.iter().all(|&v| v));
    }

    #[test]
    fn fills_a_concave_polygon_by_even_odd() {
        // A "U": the notch between the arms stays empty.
        let u = [
            [0.0, 0.0],
            [2.0, 0.0],
            [2.0, 3.0],
            [4.0, 3.0],
            [4.0, 0.0],
            [6.0, 0.0],
            [6.0, 5.0],
            [0.0, 5.0],
        ];
        let mut m = Mask::empty(5, 6);
        m.fill_polygon(&u);
        assert!(!m.get(1, 3) && m.get(1, 1) && m.get(1, 4) && m.get(4, 3));
        assert_eq!(m.area(), 30 - 6);
    }
}
