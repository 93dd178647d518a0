//! Security headers on every response: a strict Content Security Policy,
//! `X-Content-Type-Options: nosniff` and a `Referrer-Policy`.
//!
//! The dashboard (`web/`) and the job page use no inline scripts, inline
//! styles or event handler attributes, and load nothing from other
//! origins, so the policy allows only the server's own origin. Scripts
//! that set `element.style` properties are not affected: the policy
//! blocks `style` attributes in markup, not the CSSOM. JSON and PNG
//! responses get the same headers, which cost nothing and cover a
//! response that a browser opens directly.

use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::response::Response;

/// The policy: the server's own scripts, styles, images and API, no
/// plugins, no `<base>` or form targets elsewhere, and no framing.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// Adds the security headers to `response`, keeping any a handler set.
pub async fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let defaults = [
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Links from pitot's pages to GitHub send the origin only, never
        // a job's or benchmark's path.
        (REFERRER_POLICY, "strict-origin-when-cross-origin"),
        // For browsers that predate `frame-ancestors`.
        (X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
