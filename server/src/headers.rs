//! Headers every answer carries: other sites may not frame the app
//! (clickjacking), browsers may not guess content types, and no address
//! (which can hold the access token) leaks to other sites as a referrer.
//! Pages of the app carry their own, fuller Content-Security-Policy with
//! the nonce of their hydration script (set in `app::shell`); every other
//! answer gets a policy that only forbids framing, plugins and base tags.

use axum::{
    extract::Request,
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

const FALLBACK_CSP: &str = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(FALLBACK_CSP));
    response
}
