//! Requests another web site makes the browser send. Two attacks:
//!
//! - Cross-site request forgery: any page the user visits can POST to
//!   `http://127.0.0.1:7860` (a form, or `fetch` with a `text/plain` body
//!   that needs no CORS preflight). Like Go's `CrossOriginProtection`, a
//!   state-changing request is refused when the browser says it comes from
//!   another site (`Sec-Fetch-Site`) or, from browsers that do not send
//!   that header, when its `Origin` is not this server's host. JSON
//!   endpoints also refuse the body types a page can send without a
//!   preflight. Clients that are not browsers (curl, the `openai` SDK)
//!   send neither header and are not affected.
//! - DNS rebinding: a page on `attacker.example` makes its name resolve to
//!   127.0.0.1 and then reads this server as "its own" origin. Where
//!   nothing else guards the server (the loopback default), requests must
//!   name the server by a loopback name or address, or a name allowed with
//!   `--allowed-host`, as Jupyter and Vite do. Behind a token or a login
//!   the attacker has neither, so any `Host` (a cloud provider's proxy
//!   name) is fine there.

use axum::http::{header, HeaderMap, Method};

/// What this server accepts from browsers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SitePolicy {
    /// Check `Host` against loopback names and [`SitePolicy::allowed_hosts`]
    /// (on when nothing else guards the server).
    pub check_host: bool,
    /// Extra host names (`--allowed-host`), compared without the port.
    pub allowed_hosts: Vec<String>,
    /// The one other origin allowed to call `/v1` from a browser
    /// (`--api-cors`).
    pub api_cors_origin: Option<String>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SiteRefusal {
    CrossSite,
    ForeignHost(String),
    NotJson,
}

impl SiteRefusal {
    pub fn message(&self) -> String {
        match self {
            SiteRefusal::CrossSite => {
                "cross-site request refused: this server accepts changes only from its own pages"
                    .into()
            }
            SiteRefusal::ForeignHost(host) => format!(
                "the host name `{host}` is not this server's; open it as 127.0.0.1 or localhost, \
                 or start candlelight with --allowed-host {host}"
            ),
            SiteRefusal::NotJson => {
                "send the body as JSON with `Content-Type: application/json`".into()
            }
        }
    }
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `host[:port]` without the port (IPv6 literals keep their brackets off).
fn host_name(authority: &str) -> &str {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An origin or authority reduced to what makes two of them the same
/// site: the host name (lower case) and the port, a missing port being
/// its scheme's default (`https://host` is `host:443`).
#[derive(Debug, PartialEq, Eq)]
struct Site {
    host: String,
    port: Option<u16>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl Site {
    /// `authority` (`host[:port]`), reached by `scheme`.
    fn of_authority(authority: &str, scheme: &str) -> Self {
        let authority = authority.trim();
        let host = host_name(authority)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let after_host = match authority.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or("", |(_, r)| r),
            None => authority.split_once(':').map_or("", |(_, r)| r),
        };
        let port = after_host
            .trim_start_matches(':')
            .parse()
            .ok()
            .or_else(|| default_port(scheme));
        Site { host, port }
    }

    /// An `Origin` header (`scheme://host[:port]`); none for `null`.
    fn of_origin(origin: &str) -> Option<(Self, String)> {
        let (scheme, rest) = origin.split_once("://")?;
        let authority = rest.split('/').next().unwrap_or(rest);
        Some((Self::of_authority(authority, scheme), scheme.to_string()))
    }
}

/// The first element of RFC 7239's `Forwarded` header: its `host` and
/// `proto` parameters.
fn forwarded_param<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let first = header_str(headers, "forwarded")?.split(',').next()?;
    first.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The first value of a comma-separated `X-Forwarded-*` header.
fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    header_str(headers, name)
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Endpoints whose bodies are JSON: server functions and the API.
fn expects_json(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/v1/")
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || header_str(headers, header::CONTENT_LENGTH).is_some_and(|n| n != "0")
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl SitePolicy {
    /// `host` is the request's `Host` (or HTTP/2 `:authority`); a request
    /// without one cannot come from a browser, so has nothing to check.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        host: Option<&str>,
    ) -> Result<(), SiteRefusal> {
        let host = host.unwrap_or("");
        if self.check_host && !host.is_empty() {
            let name = host_name(host);
            let allowed = is_loopback_name(name)
                || self
                    .allowed_hosts
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(name));
            if !allowed {
                return Err(SiteRefusal::ForeignHost(name.chars().take(100).collect()));
            }
        }
        if !changes_state(method) {
            return Ok(());
        }
        let origin = header_str(headers, header::ORIGIN);
        let cors_allowed = path.starts_with("/v1/")
            && origin.is_some()
            && self.api_cors_origin.as_deref() == origin;
        if !cors_allowed {
            self.check_same_origin(headers, host, origin)?;
        }
        if expects_json(path) {
            // A body must say it is JSON; a request without one (POST
            // /v1/internal/stop-generation) needs no type.
            match header_str(headers, header::CONTENT_TYPE) {
                Some(t) if !is_json(t) => return Err(SiteRefusal::NotJson),
                None if has_body(headers) => return Err(SiteRefusal::NotJson),
                _ => {}
            }
        }
        Ok(())
    }

    fn check_same_origin(
        &self,
        headers: &HeaderMap,
        host: &str,
        origin: Option<&str>,
    ) -> Result<(), SiteRefusal> {
        if let Some(site) = header_str(headers, "sec-fetch-site") {
            // `none`: the user typed the address or used a bookmark.
            return match site {
                "same-origin" | "none" => Ok(()),
                _ => Err(SiteRefusal::CrossSite),
            };
        }
        let Some(origin) = origin else {
            return Ok(()); // not a browser, or a same-origin GET-like request
        };
        // "null" (a sandboxed or file page) has no site: refused below.
        let Some((origin, origin_scheme)) = Site::of_origin(origin) else {
            return Err(SiteRefusal::CrossSite);
        };
        // Behind a reverse proxy the browser's origin is the proxy's name,
        // which the proxy passes on in `Forwarded` or `X-Forwarded-Host`
        // (or keeps in Host), often with the port it listens on: ports are
        // compared with the scheme's default filled in.
        let proto = forwarded_param(headers, "proto")
            .or_else(|| first_value(headers, "x-forwarded-proto"))
            .unwrap_or(&origin_scheme);
        let forwarded =
            forwarded_param(headers, "host").or_else(|| first_value(headers, "x-forwarded-host"));
        let matches = Site::of_authority(host, &origin_scheme) == origin
            || forwarded.is_some_and(|f| Site::of_authority(f, proto) == origin);
        if matches {
            Ok(())
        } else {
            Err(SiteRefusal::CrossSite)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    impl SitePolicy {
        /// As the guard calls it: the host from the headers.
        fn check_headers(
            &self,
            method: &Method,
            path: &str,
            h: &HeaderMap,
        ) -> Result<(), SiteRefusal> {
            self.check(method, path, h, header_str(h, header::HOST))
        }
    }

    fn open() -> SitePolicy {
        SitePolicy {
            check_host: true,
            ..SitePolicy::default()
        }
    }

    const JSON: (&str, &str) = ("content-type", "application/json");
    const LEN: (&str, &str) = ("content-length", "2");

    #[test]
    fn non_browser_clients_pass() {
        let h = headers(&[("host", "127.0.0.1:7860"), JSON, LEN]);
        assert_eq!(
            open().check_headers(&Method::POST, "/v1/chat/completions", &h),
            Ok(())
        );
        assert_eq!(
            open().check_headers(&Method::POST, "/api/save_preset", &h),
            Ok(())
        );
    }

    #[test]
    fn cross_site_posts_are_refused() {
        for extra in [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("origin", "http://evil.example"),
            ("origin", "null"),
            ("origin", "http://127.0.0.1:9999"),
        ] {
            let h = headers(&[("host", "127.0.0.1:7860"), JSON, LEN, extra]);
            assert_eq!(
                open().check_headers(&Method::POST, "/api/save_character", &h),
                Err(SiteRefusal::CrossSite),
                "{extra:?}"
            );
        }
        // Reading is not a change.
        let h = headers(&[
            ("host", "127.0.0.1:7860"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(open().check_headers(&Method::GET, "/", &h), Ok(()));
    }

    #[test]
    fn same_origin_posts_pass() {
        for extra in [
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://127.0.0.1:7860"),
        ] {
            let h = headers(&[("host", "127.0.0.1:7860"), JSON, LEN, extra]);
            assert_eq!(
                open().check_headers(&Method::POST, "/api/x", &h),
                Ok(()),
                "{extra:?}"
            );
        }
    }

    #[test]
    fn simple_bodies_are_refused_where_json_is_expected() {
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let h = headers(&[("host", "localhost:7860"), ("content-type", ct), LEN]);
            assert_eq!(
                open().check_headers(&Method::POST, "/v1/completions", &h),
                Err(SiteRefusal::NotJson),
                "{ct}"
            );
        }
        let h = headers(&[
            ("host", "localhost"),
            ("content-type", "application/json; charset=utf-8"),
            LEN,
        ]);
        assert_eq!(open().check_headers(&Method::POST, "/api/x", &h), Ok(()));
        // No body, no type needed (POST /v1/internal/stop-generation).
        let h = headers(&[("host", "localhost")]);
        assert_eq!(
            open().check_headers(&Method::POST, "/v1/internal/stop-generation", &h),
            Ok(())
        );
        // The login form is a form.
        let h = headers(&[
            ("host", "localhost"),
            ("content-type", "application/x-www-form-urlencoded"),
            LEN,
        ]);
        assert_eq!(open().check_headers(&Method::POST, "/login", &h), Ok(()));
    }

    #[test]
    fn foreign_host_names_are_refused_when_nothing_else_guards() {
        for host in [
            "127.0.0.1:7860",
            "localhost",
            "LOCALHOST:1",
            "app.localhost",
            "[::1]:7860",
        ] {
            assert_eq!(
                open().check_headers(&Method::GET, "/", &headers(&[("host", host)])),
                Ok(()),
                "{host}"
            );
        }
        let h = headers(&[("host", "attacker.example:7860")]);
        assert_eq!(
            open().check_headers(&Method::GET, "/api/list_chats", &h),
            Err(SiteRefusal::ForeignHost("attacker.example".into()))
        );
        let allowed = SitePolicy {
            allowed_hosts: vec!["mybox.lan".into()],
            ..open()
        };
        assert_eq!(
            allowed.check_headers(&Method::GET, "/", &headers(&[("host", "mybox.lan:7860")])),
            Ok(())
        );
        let guarded = SitePolicy::default();
        assert_eq!(guarded.check_headers(&Method::GET, "/", &h), Ok(()));
    }

    /// A TLS proxy forwards `host:443` while the browser's Origin leaves
    /// the default port out; another port is still another site.
    #[test]
    fn forwarded_default_ports_match_the_origin() {
        let proxy = SitePolicy::default();
        let post = |pairs: &[(&'static str, &str)]| {
            let mut all = pairs.to_vec();
            all.extend([JSON, LEN]);
            proxy.check_headers(&Method::POST, "/api/save_preset", &headers(&all))
        };
        let origin = ("origin", "https://u1.gpu.example");
        assert_eq!(
            post(&[
                ("host", "127.0.0.1:6006"),
                ("x-forwarded-host", "u1.gpu.example:443"),
                origin
            ]),
            Ok(())
        );
        assert_eq!(
            post(&[
                ("host", "127.0.0.1:6006"),
                ("x-forwarded-host", "u1.gpu.example"),
                ("x-forwarded-proto", "https"),
                origin
            ]),
            Ok(())
        );
        assert_eq!(
            post(&[
                ("host", "127.0.0.1:6006"),
                ("forwarded", "for=10.0.0.9;host=u1.gpu.example;proto=https"),
                origin
            ]),
            Ok(())
        );
        assert_eq!(post(&[("host", "U1.gpu.example:443"), origin]), Ok(()));
        assert_eq!(
            post(&[
                ("host", "127.0.0.1:6006"),
                ("x-forwarded-host", "u1.gpu.example:8443"),
                origin
            ]),
            Err(SiteRefusal::CrossSite)
        );
        assert_eq!(
            post(&[
                ("host", "127.0.0.1:6006"),
                ("x-forwarded-host", "u1.gpu.example"),
                ("origin", "https://evil.example")
            ]),
            Err(SiteRefusal::CrossSite)
        );
        assert_eq!(
            post(&[
                ("host", "127.0.0.1:7860"),
                ("origin", "http://127.0.0.1:7861")
            ]),
            Err(SiteRefusal::CrossSite)
        );
    }

    #[test]
    fn a_reverse_proxy_s_name_works_behind_the_token() {
        let proxy = SitePolicy::default();
        // Host rewritten to the upstream address, the public name forwarded.
        let h = headers(&[
            ("host", "127.0.0.1:6006"),
            ("x-forwarded-host", "u123.gpu-cloud.example"),
            ("origin", "https://u123.gpu-cloud.example"),
            JSON,
            LEN,
        ]);
        assert_eq!(
            proxy.check_headers(&Method::POST, "/api/save_preset", &h),
            Ok(())
        );
        // Host kept as the public name.
        let h = headers(&[
            ("host", "u123.gpu-cloud.example"),
            ("origin", "https://u123.gpu-cloud.example"),
            JSON,
            LEN,
        ]);
        assert_eq!(
            proxy.check_headers(&Method::POST, "/api/save_preset", &h),
            Ok(())
        );
        let h = headers(&[
            ("host", "127.0.0.1:6006"),
            ("x-forwarded-host", "u123.gpu-cloud.example"),
            ("origin", "https://evil.example"),
            JSON,
            LEN,
        ]);
        assert_eq!(
            proxy.check_headers(&Method::POST, "/api/save_preset", &h),
            Err(SiteRefusal::CrossSite)
        );
    }

    #[test]
    fn the_api_s_cors_origin_may_call_v1_only() {
        let p = SitePolicy {
            api_cors_origin: Some("http://tool.example".into()),
            ..open()
        };
        let h = headers(&[
            ("host", "127.0.0.1:7860"),
            ("origin", "http://tool.example"),
            ("sec-fetch-site", "cross-site"),
            JSON,
            LEN,
        ]);
        assert_eq!(
            p.check_headers(&Method::POST, "/v1/chat/completions", &h),
            Ok(())
        );
        assert_eq!(
            p.check_headers(&Method::POST, "/api/save_preset", &h),
            Err(SiteRefusal::CrossSite)
        );
    }
}
