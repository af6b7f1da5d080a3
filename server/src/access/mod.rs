//! Who may use the server. On loopback (the default) nobody is asked.
//! Listening on any other address without `--auth`, a random access token
//! is required: the printed link carries it once, then an HttpOnly,
//! SameSite=Strict cookie does. With `--auth`, a login form instead.
//! Failed attempts are slowed down; comparisons are constant-time.

mod pages;
mod throttle;

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
};

use axum::{
    extract::{ConnectInfo, Form, FromRequest, Request, State},
    http::{header, HeaderMap, Method, StatusCode, Uri},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use crate::{
    openai::ApiError,
    secrets::{constant_time_eq, new_token},
};
use throttle::Throttle;

const TOKEN_COOKIE: &str = "candlelight_token";
const SESSION_COOKIE: &str = "candlelight_session";

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
    /// With `--api-key`, `/v1` is governed by the key alone.
    api_key_set: bool,
    throttle: Throttle,
    sessions: Mutex<HashMap<String, String>>,
}

impl Access {
    pub fn new(policy: AccessPolicy, api_key_set: bool) -> Arc<Self> {
        Arc::new(Self {
            policy,
            api_key_set,
            throttle: Throttle::default(),
            sessions: Mutex::default(),
        })
    }

    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    async fn failed(&self, ip: Option<IpAddr>) {
        let delay = self.throttle.fail(ip.unwrap_or(IpAddr::from([0, 0, 0, 0])));
        tracing::warn!(client = ?ip, delay_ms = delay.as_millis() as u64, "failed access attempt");
        tokio::time::sleep(delay).await;
    }
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

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
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

/// The "not allowed" answer in the form the caller understands.
fn refuse(method: &Method, headers: &HeaderMap, path: &str, page: String) -> Response {
    if path.starts_with("/v1/") {
        return ApiError::Unauthorized.into_response();
    }
    let wants_html = method == Method::GET
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        (StatusCode::UNAUTHORIZED, Html(page)).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "candlelight: access token or login required",
        )
            .into_response()
    }
}

/// Paths anyone may fetch: the icon, and the health check for probes.
fn is_public(path: &str) -> bool {
    matches!(path, "/favicon.svg" | "/health")
}

pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let open = matches!(access.policy, AccessPolicy::Open)
        || is_public(&path)
        || (access.api_key_set && path.starts_with("/v1/"));
    if open {
        return next.run(request).await;
    }
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match access.policy.clone() {
        AccessPolicy::Open => next.run(request).await,
        AccessPolicy::Token(token) => token_guard(&access, &token, ip, request, next).await,
        AccessPolicy::Login(users) => login_guard(&access, &users, ip, request, next).await,
    }
}

async fn token_guard(
    access: &Access,
    token: &str,
    ip: Option<IpAddr>,
    request: Request,
    next: Next,
) -> Response {
    let (method, headers, path) = (
        request.method().clone(),
        request.headers().clone(),
        request.uri().path().to_string(),
    );
    if let Some((given, clean_path)) = token_in_query(request.uri()) {
        if constant_time_eq(given.as_bytes(), token.as_bytes()) {
            let cookie = set_cookie(TOKEN_COOKIE, token, 400 * 24 * 3600);
            return (
                [(header::SET_COOKIE, cookie)],
                Html(pages::continue_to(&clean_path)),
            )
                .into_response();
        }
        access.failed(ip).await;
        return refuse(&method, &headers, &path, pages::token_form(true));
    }
    let presented = cookie(&headers, TOKEN_COOKIE).or_else(|| bearer(&headers));
    match presented {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => {
            access.failed(ip).await;
            refuse(&method, &headers, &path, pages::token_form(true))
        }
        None => refuse(&method, &headers, &path, pages::token_form(false)),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login_guard(
    access: &Access,
    users: &HashMap<String, String>,
    ip: Option<IpAddr>,
    request: Request,
    next: Next,
) -> Response {
    let (method, headers, path) = (
        request.method().clone(),
        request.headers().clone(),
        request.uri().path().to_string(),
    );
    if path == "/login" {
        if method != Method::POST {
            return Html(pages::login_form(false)).into_response();
        }
        let Ok(Form(form)) = Form::<LoginForm>::from_request(request, &()).await else {
            return (StatusCode::BAD_REQUEST, Html(pages::login_form(true))).into_response();
        };
        let known = users
            .get(&form.user)
            .is_some_and(|p| constant_time_eq(p.as_bytes(), form.password.as_bytes()));
        if !known {
            access.failed(ip).await;
            return (StatusCode::UNAUTHORIZED, Html(pages::login_form(true))).into_response();
        }
        let session = new_token();
        access
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session.clone(), form.user);
        let cookie = set_cookie(SESSION_COOKIE, &session, 7 * 24 * 3600);
        return ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response();
    }
    let session_user = cookie(&headers, SESSION_COOKIE).and_then(|s| {
        let sessions = access.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .iter()
            .find(|(id, _)| constant_time_eq(id.as_bytes(), s.as_bytes()))
            .map(|(_, user)| user.clone())
    });
    if session_user.is_some() {
        return next.run(request).await;
    }
    if method == Method::GET && !path.starts_with("/v1/") && !path.starts_with("/api/") {
        return Redirect::to("/login").into_response();
    }
    refuse(&method, &headers, &path, pages::login_form(false))
}

/// `user:password` pairs from `--auth` flags and an `--auth-file` (one per
/// line, `#` comments).
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
}
