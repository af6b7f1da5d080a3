//! Who may use the server, and from where.
//!
//! Every request first passes the site checks (`site.rs`: no cross-site
//! writes, no foreign host names where nothing else guards the server) and
//! the body size limit. Then, on loopback (the default) nobody is asked.
//! Listening on any other address without `--auth`, a random access token
//! is required: the printed link carries it once, then an HttpOnly,
//! SameSite=Strict cookie does. With `--auth`, a login form instead, and
//! each user gets chats of their own (the guard puts the [`Caller`] into
//! the request for the services to read). Failed attempts are throttled
//! per address; comparisons are constant-time.

mod pages;
mod refusal;
mod sessions;
mod site;
mod throttle;

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Form, FromRequest, Request, State},
    http::{header, HeaderMap, Method, StatusCode, Uri},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};
use domain::Caller;
use serde::Deserialize;

use crate::secrets::constant_time_eq;
pub use refusal::{retry_secs, ApiRefusal, Refusal};
use sessions::Sessions;
pub use site::{SitePolicy, SiteRefusal};
pub use throttle::{Attempt, Throttle};

const TOKEN_COOKIE: &str = "candlelight_token";
const SESSION_COOKIE: &str = "candlelight_session";

/// The largest request body: a character picture or card of 8 MB, as
/// base64 inside JSON.
pub const MAX_BODY_BYTES: usize = 12 << 20;

/// How requests are let in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessPolicy {
    /// Loopback only: everyone who can connect is on this machine.
    Open,
    /// The random access token printed at start.
    Token(String),
    /// `--auth user:password`: a login form.
    Login(HashMap<String, String>),
}

pub struct Access {
    policy: AccessPolicy,
    /// The API's rendering of a refusal (the API layer is above this one).
    api_refusal: ApiRefusal,
    /// With `--api-key`, `/v1` is governed by the key alone.
    api_key_set: bool,
    site: SitePolicy,
    throttle: Arc<Throttle>,
    sessions: Sessions,
}

impl Access {
    pub fn new(
        policy: AccessPolicy,
        api_key_set: bool,
        site: SitePolicy,
        throttle: Arc<Throttle>,
        session_lifetime: Duration,
        api_refusal: ApiRefusal,
    ) -> Arc<Self> {
        Arc::new(Self {
            policy,
            api_refusal,
            api_key_set,
            site,
            throttle,
            sessions: Sessions::new(session_lifetime),
        })
    }
}

/// The client's address; requests without one (tests) share one bucket.
pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The credentials of `Authorization: Bearer …` (the scheme in any case,
/// as RFC 9110 has it).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

/// The `token` query parameter, and the address without it.
fn token_in_query(uri: &Uri) -> Option<(String, String)> {
    let query = uri.query()?;
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("token", v)) => token = Some(v.to_string()),
            _ if !pair.is_empty() => rest.push(pair),
            _ => {}
        }
    }
    let path = if rest.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    };
    token.map(|t| (t, path))
}

fn set_cookie(name: &str, value: &str, max_age_secs: u64) -> String {
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}")
}

/// Paths anyone may fetch: the icon, and the health check for probes.
fn is_public(path: &str) -> bool {
    matches!(path, "/favicon.svg" | "/health")
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

pub async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let (method, headers) = (request.method().clone(), request.headers().clone());
    let refuse = |r: Refusal| r.respond(&method, &headers, &path, access.api_refusal);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .map(str::to_string);
    if let Err(e) = access.site.check(&method, &path, &headers, host.as_deref()) {
        tracing::warn!(client = %client_ip(&request), %path, reason = ?e, "request refused");
        return refuse(match e {
            SiteRefusal::NotJson => Refusal::UnsupportedMediaType(e.message()),
            _ => Refusal::Forbidden(e.message()),
        });
    }
    if declared_length(&headers).is_some_and(|n| n > MAX_BODY_BYTES) {
        return refuse(Refusal::TooLarge(format!(
            "the request is larger than {} MB",
            MAX_BODY_BYTES >> 20
        )));
    }
    request.extensions_mut().insert(Caller::default());
    let open = matches!(access.policy, AccessPolicy::Open)
        || is_public(&path)
        || (access.api_key_set && path.starts_with("/v1/"));
    if open {
        return next.run(request).await;
    }
    match access.policy.clone() {
        AccessPolicy::Open => next.run(request).await,
        AccessPolicy::Token(token) => token_guard(&access, &token, request, next).await,
        AccessPolicy::Login(users) => login_guard(&access, &users, request, next).await,
    }
}

/// Checks the access token `given` under the throttle.
fn throttled_check(
    access: &Access,
    ip: IpAddr,
    given: &str,
    secret: &str,
    what: &str,
) -> Result<(), Refusal> {
    match access
        .throttle
        .verify(ip, || constant_time_eq(given.as_bytes(), secret.as_bytes()))
    {
        Attempt::Accepted => Ok(()),
        Attempt::Refused(wait) => {
            tracing::warn!(client = %ip, retry_ms = wait.as_millis() as u64, "wrong {what}");
            Err(Refusal::Unauthorized {
                message: format!("wrong {what}"),
                page: pages::token_form(true),
            })
        }
        Attempt::LockedOut(wait) => Err(Refusal::TooManyAttempts(wait)),
    }
}

async fn token_guard(access: &Access, token: &str, request: Request, next: Next) -> Response {
    let (method, headers, path) = (
        request.method().clone(),
        request.headers().clone(),
        request.uri().path().to_string(),
    );
    let ip = client_ip(&request);
    let refuse = |r: Refusal| r.respond(&method, &headers, &path, access.api_refusal);
    if let Some((given, clean_path)) = token_in_query(request.uri()) {
        return match throttled_check(access, ip, &given, token, "access token") {
            Ok(()) => {
                let cookie = set_cookie(TOKEN_COOKIE, token, 400 * 24 * 3600);
                (
                    [(header::SET_COOKIE, cookie)],
                    Html(pages::continue_to(&clean_path)),
                )
                    .into_response()
            }
            Err(r) => refuse(r),
        };
    }
    let presented = cookie(&headers, TOKEN_COOKIE).or_else(|| bearer(&headers));
    match presented {
        Some(given) => match throttled_check(access, ip, given, token, "access token") {
            Ok(()) => next.run(request).await,
            Err(r) => refuse(r),
        },
        None => refuse(Refusal::Unauthorized {
            message: "this server needs its access token".into(),
            page: pages::token_form(false),
        }),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

fn expired_cookie(name: &str) -> String {
    format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

async fn login_guard(
    access: &Access,
    users: &HashMap<String, String>,
    mut request: Request,
    next: Next,
) -> Response {
    let (method, headers, path) = (
        request.method().clone(),
        request.headers().clone(),
        request.uri().path().to_string(),
    );
    let ip = client_ip(&request);
    let presented = cookie(&headers, SESSION_COOKIE).map(str::to_string);
    if path == "/logout" && method == Method::POST {
        if let Some(old) = &presented {
            access.sessions.end(old);
        }
        return (
            [(header::SET_COOKIE, expired_cookie(SESSION_COOKIE))],
            Redirect::to("/login"),
        )
            .into_response();
    }
    if path == "/login" {
        if method != Method::POST {
            return Html(pages::login_form(false)).into_response();
        }
        let Ok(Form(form)) = Form::<LoginForm>::from_request(request, &()).await else {
            return (StatusCode::BAD_REQUEST, Html(pages::login_form(true))).into_response();
        };
        // Every name is checked the same way, known or not.
        let expected = users.get(&form.user).map_or("", String::as_str);
        let outcome = access.throttle.attempt(ip, || {
            constant_time_eq(expected.as_bytes(), form.password.as_bytes()) && !expected.is_empty()
        });
        return match outcome {
            Attempt::Accepted => {
                // A new session for every login; the one this browser had
                // (if any) ends, so a session fixed before login is useless.
                if let Some(old) = &presented {
                    access.sessions.end(old);
                }
                let session = access.sessions.start(&form.user);
                tracing::info!(user = %form.user, client = %ip, "logged in");
                let cookie = set_cookie(
                    SESSION_COOKIE,
                    &session,
                    access.sessions.lifetime().as_secs(),
                );
                ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
            }
            Attempt::Refused(wait) => {
                tracing::warn!(client = %ip, retry_ms = wait.as_millis() as u64, "failed login");
                (StatusCode::UNAUTHORIZED, Html(pages::login_form(true))).into_response()
            }
            Attempt::LockedOut(wait) => {
                Refusal::TooManyAttempts(wait).respond(&method, &headers, &path, access.api_refusal)
            }
        };
    }
    let session_user = presented.as_deref().and_then(|s| access.sessions.user(s));
    if let Some(user) = session_user {
        request.extensions_mut().insert(Caller::user(user));
        return next.run(request).await;
    }
    if method == Method::GET && !path.starts_with("/v1/") && !path.starts_with("/api/") {
        return Redirect::to("/login").into_response();
    }
    Refusal::Unauthorized {
        message: "log in first (your session may have expired)".into(),
        page: pages::login_form(false),
    }
    .respond(&method, &headers, &path, access.api_refusal)
}

/// `user:password` pairs from `--auth` flags and an `--auth-file` (one per
/// line, `#` comments). User names become folder names, so they follow the
/// same rules as character names.
pub fn parse_users(
    pairs: &[String],
    file_text: Option<&str>,
) -> Result<HashMap<String, String>, String> {
    let from_file = file_text
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string);
    let mut users = HashMap::new();
    for entry in pairs.iter().cloned().chain(from_file) {
        let (user, password) = entry
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty())
            .ok_or_else(|| "each --auth entry must be user:password".to_string())?;
        crate::store::check_name(user).map_err(|e| format!("--auth user name: {e}"))?;
        users.insert(user.to_string(), password.to_string());
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_token_is_taken_out_of_the_address() {
        let uri: Uri = "/chat?token=abc&x=1".parse().unwrap();
        assert_eq!(
            token_in_query(&uri),
            Some(("abc".into(), "/chat?x=1".into()))
        );
        let uri: Uri = "/?token=abc".parse().unwrap();
        assert_eq!(token_in_query(&uri), Some(("abc".into(), "/".into())));
        assert_eq!(token_in_query(&"/?x=1".parse().unwrap()), None);
    }

    #[test]
    fn users_come_from_flags_and_file() {
        let users = parse_users(&["ann:pw1".into()], Some("# admins\nbob:pw:2\n\n")).unwrap();
        assert_eq!(users["ann"], "pw1");
        assert_eq!(users["bob"], "pw:2");
        assert!(parse_users(&["nopassword".into()], None).is_err());
        assert!(parse_users(&[":x".into()], None).is_err());
        assert!(parse_users(&["../x:pw".into()], None).is_err());
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; candlelight_token=xyz".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, TOKEN_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer k1", "bearer k1", "BEARER  k1 "] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer(&headers), Some("k1"), "{value}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Basic k1".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
