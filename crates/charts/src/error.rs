//! The errors of chart rendering.

/// An error that prevents a chart from being drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error(
        "invalid noise band {low} to {high}: both bounds must be finite and positive, \
         with low <= 1 <= high, such as 1/1.1 to 1.1"
    )]
    InvalidNoiseBand { low: f64, high: f64 },
    /// plotters failed to draw; its error types are generic over the
    /// backend, so the message is kept as text.
    #[error("failed to draw the chart: {0}")]
    Drawing(String),
    #[error("failed to encode the chart as PNG: {0}")]
    Encoding(#[from] png::EncodingError),
}

impl ChartError {
    /// Wraps a plotters error.
    pub(crate) fn drawing(error: impl std::fmt::Display) -> ChartError {
        ChartError::Drawing(error.to_string())
    }
}
