//! The dashboard's files from `web/`, compiled into the binary, so that
//! `pitot serve` needs no web server, no files on disk and no Node.js.
//!
//! `GET /` serves the app shell; everything else is under `/assets/`. The
//! app routes with the URL's fragment (`/#/...`), so every deep link loads
//! the same shell. Responses are revalidated on each load (`no-cache` with
//! an ETag of the file's digest), because their URLs do not change with a
//! new pitot version.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;

use crate::error::AppError;

/// One file of the dashboard.
struct Asset {
    /// The path under `web/`, and so under `/assets/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Lists the files of `web/` with their content types.
macro_rules! assets {
    ($($path:literal => $content_type:literal,)*) => {
        &[$(Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../../../web/", $path)),
        }),*]
    };
}

static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "nav.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "format.js" => "text/javascript; charset=utf-8",
    "history_chart.js" => "text/javascript; charset=utf-8",
    "quarantine.js" => "text/javascript; charset=utf-8",
    "calibration.js" => "text/javascript; charset=utf-8",
    "views/repositories.js" => "text/javascript; charset=utf-8",
    "views/benchmarks.js" => "text/javascript; charset=utf-8",
    "views/benchmark.js" => "text/javascript; charset=utf-8",
    "views/runs.js" => "text/javascript; charset=utf-8",
    "views/run.js" => "text/javascript; charset=utf-8",
    "views/compare.js" => "text/javascript; charset=utf-8",
    "views/regressions.js" => "text/javascript; charset=utf-8",
    "views/comparison_table.js" => "text/javascript; charset=utf-8",
    "vendor/uPlot.esm.js" => "text/javascript; charset=utf-8",
    "vendor/uPlot.min.css" => "text/css; charset=utf-8",
    "vendor/LICENSE" => "text/plain; charset=utf-8",
};

/// The ETag of each asset, in the order of [`ASSETS`].
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = sha2::Sha256::digest(asset.body);
            let tag = format!("\"{}\"", hex::encode(&digest[..12]));
            HeaderValue::from_str(&tag).expect("hex digits are a valid header value")
        })
        .collect()
});

/// `GET /`: the dashboard's shell page.
pub(crate) async fn index(headers: HeaderMap) -> Result<Response, AppError> {
    serve("index.html", &headers)
}

/// `GET /assets/{path}`: one file of the dashboard.
pub(crate) async fn asset(
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    serve(&path, &headers)
}

fn serve(path: &str, request_headers: &HeaderMap) -> Result<Response, AppError> {
    let (index, asset) = ASSETS
        .iter()
        .enumerate()
        .find(|(_, asset)| asset.path == path)
        .ok_or_else(|| AppError::NotFound(format!("no dashboard file {path:?}")))?;
    let etag = &ETAGS[index];
    let cached = request_headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value == etag);
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::ETAG, etag.clone());
    Ok(response)
}
