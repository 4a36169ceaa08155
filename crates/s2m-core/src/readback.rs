//! Reading tensors back to the host without blocking: in the browser a
//! synchronous GPU read would stall (or kill) the page, so every read in
//! code that runs there goes through here.

use burn::tensor::Tensor;

/// A tensor could not be read back from its device.
#[derive(Debug, Clone, thiserror::Error)]
#[error("reading {what} back from the device failed: {message}")]
pub struct ReadbackError {
    pub what: &'static str,
    pub message: String,
}

/// The values of a float tensor, row-major, as f32.
pub async fn read_f32<const D: usize>(
    tensor: Tensor<D>,
    what: &'static str,
) -> Result<Vec<f32>, ReadbackError> {
    let error = |message: String| ReadbackError { what, message };
    tensor
        .into_data_async()
        .await
        .map_err(|e| error(format!("{e:?}")))?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| error(format!("{e:?}")))
}
