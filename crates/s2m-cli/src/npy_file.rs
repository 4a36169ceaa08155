//! Writing a float32 map as a `.npy` file (NumPy's `np.save` format), the
//! first format `s2m detect` and `s2m segment` read back.

use std::path::Path;

use anyhow::Result;
use npyz::WriterBuilder;

/// Writes `values` (row-major) as a `[height, width]` float32 array.
pub fn write_f32(path: &Path, height: usize, width: usize, values: &[f32]) -> Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[height as u64, width as u64])
        .writer(file)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    Ok(writer.finish()?)
}
