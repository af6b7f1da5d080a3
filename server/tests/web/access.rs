//! The access guard on the real router: open on loopback, token when
//! listening elsewhere (link, cookie, bearer, slowed failures), login with
//! --auth. Health stays open for probes.

use std::time::Instant;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use leptos::server_fn::ServerFn;
use server::{AccessPolicy, ServerConfig};
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn app(access: AccessPolicy) -> (Router, tempfile::TempDir) {
    let app = crate::support::app_with(ServerConfig {
        access,
        ..ServerConfig::default()
    });
    (app.router, app.dir)
}

async fn get(
    router: &Router,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder()
        .uri(uri)
        .header(header::ACCEPT, "text/html");
    for (k, v) in headers {
        request = request.header(k, *v);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
        .into_owned();
    (status, headers, body)
}

fn server_fn_path() -> &'static str {
    <app::api::LoadModelStatus as ServerFn>::PATH
}

#[tokio::test]
async fn loopback_asks_nothing() {
    let (router, _d) = app(AccessPolicy::Open);
    assert_eq!(get(&router, "/", &[]).await.0, StatusCode::OK);
}

/// A character without a picture has no content to show, which is not an
/// error: the chat's avatar stays empty and the browser logs nothing.
#[tokio::test]
async fn a_character_without_a_picture_is_no_content() {
    let (router, _d) = app(AccessPolicy::Open);
    let (status, _, _) = get(&router, "/character-picture/Assistant", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn without_the_token_everything_is_refused() {
    let (router, _d) = app(AccessPolicy::Token(TOKEN.into()));
    let (status, _, body) = get(&router, "/", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("access token"), "{body}");
    assert!(!body.contains(TOKEN));
    let response = router
        .clone()
        .oneshot(Request::post(server_fn_path()).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, _, body) = get(&router, "/v1/models", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"error\""), "{body}");
    assert_eq!(
        get(&router, "/metrics", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&router, "/character-picture/Assistant", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Probes may check health without the token.
    assert_eq!(
        get(&router, "/health", &[]).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn the_link_sets_a_strict_cookie_that_opens_everything() {
    let (router, _d) = app(AccessPolicy::Token(TOKEN.into()));
    let (status, headers, body) = get(&router, &format!("/?token={TOKEN}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with(&format!("candlelight_token={TOKEN};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        body.contains("url=/\""),
        "moves on to the bare address: {body}"
    );
    let pair = format!("candlelight_token={TOKEN}");
    assert_eq!(
        get(&router, "/", &[(header::COOKIE, &pair)]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&router, "/metrics", &[(header::COOKIE, &pair)]).await.0,
        StatusCode::OK
    );
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        get(&router, "/v1/models", &[(header::AUTHORIZATION, &bearer)])
            .await
            .0,
        StatusCode::OK
    );
}

/// A wrong token locks the address out for a while (longer after each
/// failure): wrong tokens meanwhile are answered 429. The right token
/// always passes: behind a proxy a stranger's guesses must not lock out
/// the owner.
#[tokio::test]
async fn a_wrong_token_is_refused_and_locks_the_address_out() {
    let (router, _d) = app(AccessPolicy::Token(TOKEN.into()));
    let (status, _, body) = get(&router, "/?token=guess", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("not right"), "{body}");
    let (status, headers, _) = get(&router, "/?token=guess2", &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key(header::RETRY_AFTER));
    let (status, _, _) = get(&router, &format!("/?token={TOKEN}"), &[]).await;
    assert_eq!(status, StatusCode::OK, "the right token passes the lockout");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, _, _) = get(
        &router,
        "/",
        &[(header::COOKIE, "candlelight_token=forged")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The second failure locks out for 500 ms.
    let started = Instant::now();
    loop {
        let (status, _, _) = get(&router, "/?token=guess3", &[]).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed().as_millis() >= 400,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn auth_gives_a_login_form() {
    let users = [("ann".to_string(), "s3cret".to_string())]
        .into_iter()
        .collect();
    let (router, _d) = app(AccessPolicy::Login(users));
    let (status, headers, _) = get(&router, "/", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");
    let (status, _, body) = get(&router, "/login", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("type=\"password\""));

    let login = |form: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    let wrong = router
        .clone()
        .oneshot(login("user=ann&password=nope"))
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // Locked out for a moment: even the right password waits.
    let locked = router
        .clone()
        .oneshot(login("user=ann&password=s3cret"))
        .await
        .unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let right = router
        .clone()
        .oneshot(login("user=ann&password=s3cret"))
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let cookie = right.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_string();
    assert_eq!(
        get(&router, "/", &[(header::COOKIE, &session)]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(
            &router,
            "/",
            &[(header::COOKIE, "candlelight_session=forged")]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
}
