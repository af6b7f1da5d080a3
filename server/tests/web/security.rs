//! The defects found by trying to break a shared server, each with the
//! request that showed it (issue "Sharing one server safely"), on the real
//! router: cross-site writes, DNS rebinding, concurrent saves, runaway
//! templates, separate accounts, throttled keys, error statuses without
//! paths, large uploads, reserved names, anti-framing headers.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use app::api::{
    DeleteChat, ListChats, LoadCharacter, LoadChat, NewChat, SaveCharacter, SaveTemplate,
    UploadCharacterPicture,
};
use axum::{
    body::Body,
    http::{header, HeaderMap, Method, Request, StatusCode},
};
use engine::Engine;
use http_body_util::BodyExt;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use server::{AccessPolicy, ApiConfig, ServerConfig};
use tower::ServiceExt;

pub(crate) use crate::support::{app_on, app_with, TestApp};

/// A new instruct chat, as the page asks for one.
async fn new_instruct_chat(app: &TestApp) -> Value {
    let created = send(
        app,
        post(
            path_of::<NewChat>(),
            json!({"folder": "Instruct", "user_name": ""}),
            &[],
        ),
    )
    .await;
    created.json()
}

pub(crate) fn open_app() -> TestApp {
    app_with(ServerConfig::default())
}

pub(crate) fn path_of<T: ServerFn>() -> &'static str {
    T::PATH
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A streamed reply's events (one JSON object per line).
    pub(crate) fn events(&self) -> Vec<Value> {
        self.body
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

pub(crate) async fn send(app: &TestApp, request: Request<Body>) -> Answer {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A POST as a browser page on this server sends it.
pub(crate) fn post(path: &str, body: Value, extra: &[(&str, &str)]) -> Request<Body> {
    let mut r = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "127.0.0.1:7860")
        .header(header::CONTENT_TYPE, "application/json");
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

fn character(name: &str, context: &str) -> Value {
    json!({"character": {"name": name, "greeting": "Hi", "context": context}, "copy_from": null})
}

fn assistant_file(app: &TestApp) -> String {
    std::fs::read_to_string(app.dir.path().join("characters/Assistant.yaml")).unwrap()
}

#[tokio::test]
async fn cross_site_and_simple_body_writes_are_refused_and_change_nothing() {
    let app = open_app();
    let before = assistant_file(&app);
    let evil = character("Assistant", "pwned");
    for extra in [
        vec![("origin", "http://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "http://a.127.0.0.1.nip.io:7860"),
        ],
    ] {
        let a = send(&app, post(path_of::<SaveCharacter>(), evil.clone(), &extra)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{extra:?}: {}", a.body);
        // The browser can show why: the body is the UI's error.
        assert!(a.body.contains("cross-site"), "{}", a.body);
    }
    // A text/plain body (what a page can send without a preflight), even
    // without Origin.
    let plain = Request::builder()
        .method(Method::POST)
        .uri(path_of::<SaveCharacter>())
        .header(header::HOST, "127.0.0.1:7860")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(evil.to_string()))
        .unwrap();
    assert_eq!(
        send(&app, plain).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let form = Request::builder()
        .method(Method::POST)
        .uri("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("{}"))
        .unwrap();
    let a = send(&app, form).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(a.json()["error"]["code"], "unsupported_media_type");
    assert_eq!(assistant_file(&app), before, "the character is unchanged");

    // The app's own pages (same origin) and plain clients still write.
    let own = send(
        &app,
        post(
            path_of::<SaveCharacter>(),
            character("Assistant", "edited"),
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:7860"),
            ],
        ),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(assistant_file(&app).contains("edited"));
}

#[tokio::test]
async fn a_foreign_host_name_cannot_read_an_open_server() {
    let app = open_app();
    let list = |host: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(path_of::<ListChats>())
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"folder": "Instruct", "query": null}).to_string(),
            ))
            .unwrap()
    };
    let a = send(&app, list("attacker.example:7860")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("--allowed-host"), "{}", a.body);
    let page = Request::get("/")
        .header(header::HOST, "attacker.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, page).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&app, list("localhost:7860")).await.status,
        StatusCode::OK
    );

    let allowed = app_with(ServerConfig {
        allowed_hosts: vec!["attacker.example".into()],
        ..ServerConfig::default()
    });
    assert_eq!(
        send(&allowed, list("attacker.example")).await.status,
        StatusCode::OK
    );
}

/// A cloud GPU provider's proxy: its own public name, `Host` rewritten to
/// the upstream address or kept, `X-Forwarded-Host` added. Behind the
/// access token the app works through it; another site still cannot write.
#[tokio::test]
async fn the_app_works_behind_a_reverse_proxy() {
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    let app = app_with(ServerConfig {
        access: AccessPolicy::Token(TOKEN.into()),
        ..ServerConfig::default()
    });
    let cookie = format!("candlelight_token={TOKEN}");
    let public = "https://u42-6006.gpu-cloud.example";
    let through_proxy = |host: &str, origin: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(path_of::<SaveCharacter>())
            .header(header::HOST, host)
            .header("x-forwarded-host", "u42-6006.gpu-cloud.example")
            .header("x-forwarded-proto", "https")
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(character("Proxied", "x").to_string()))
            .unwrap()
    };
    let a = send(&app, through_proxy("127.0.0.1:6006", public)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = send(&app, through_proxy("u42-6006.gpu-cloud.example", public)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = send(
        &app,
        through_proxy("127.0.0.1:6006", "https://evil.example"),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let page = Request::get("/")
        .header(header::HOST, "u42-6006.gpu-cloud.example")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, page).await.status, StatusCode::OK);
}

/// Two saves of one character at once through the server functions, a
/// short one and a long one, 20 rounds: the file is valid every time.
#[tokio::test]
async fn concurrent_saves_of_one_character_leave_a_valid_file() {
    let app = open_app();
    let long = "long text ".repeat(30_000);
    for round in 0..20 {
        let saves = [character("Racer", "short"), character("Racer", &long)]
            .map(|body| send(&app, post(path_of::<SaveCharacter>(), body, &[])));
        let [a, b] = futures::future::join_all(saves)
            .await
            .try_into()
            .ok()
            .unwrap();
        assert_eq!(
            (a.status, b.status),
            (StatusCode::OK, StatusCode::OK),
            "round {round}"
        );
        let loaded = send(
            &app,
            post(path_of::<LoadCharacter>(), json!({"name": "Racer"}), &[]),
        )
        .await;
        assert_eq!(
            loaded.status,
            StatusCode::OK,
            "round {round}: {}",
            loaded.body
        );
        let context = loaded.json()["character"]["context"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            context == "short" || context == long,
            "round {round}: a mixed file"
        );
    }
}

#[tokio::test]
async fn a_runaway_template_is_refused_quickly() {
    let app = open_app();
    let nested =
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    let started = Instant::now();
    let a = send(
        &app,
        post(
            path_of::<SaveTemplate>(),
            json!({"name": "Loop", "source": nested}),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("steps"), "{}", a.body);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!app
        .dir
        .path()
        .join("instruction-templates/Loop.yaml")
        .exists());
}

fn login_app(lifetime: Duration) -> TestApp {
    let users: HashMap<String, String> = [("a", "1"), ("b", "2")]
        .into_iter()
        .map(|(u, p)| (u.to_string(), p.to_string()))
        .collect();
    app_with(ServerConfig {
        access: AccessPolicy::Login(users),
        session_lifetime: lifetime,
        ..ServerConfig::default()
    })
}

async fn log_in(app: &TestApp, user: &str, password: &str, old: Option<&str>) -> String {
    let mut r = Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header(header::HOST, "127.0.0.1:7860")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(old) = old {
        r = r.header(header::COOKIE, old);
    }
    let a = send(
        app,
        r.body(Body::from(format!("user={user}&password={password}")))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let cookie = a.headers[header::SET_COOKIE].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn users_have_separate_chats_sessions_end_and_expire() {
    let app = login_app(Duration::from_secs(3600));
    let a = log_in(&app, "a", "1", None).await;
    let b = log_in(&app, "b", "2", None).await;
    let as_user = |cookie: &str, path: &str, body: Value| post(path, body, &[("cookie", cookie)]);
    let created = send(
        &app,
        as_user(
            &a,
            path_of::<NewChat>(),
            json!({"folder": "Instruct", "user_name": ""}),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let key = created.json()["key"].clone();
    let revision = created.json()["revision"].clone();
    assert!(app.dir.path().join("users/a/logs/instruct").is_dir());

    // b lists nothing, cannot open or delete a's chat.
    let listed = send(
        &app,
        as_user(
            &b,
            path_of::<ListChats>(),
            json!({"folder": "Instruct", "query": null}),
        ),
    )
    .await;
    assert_eq!(listed.json(), json!([]));
    let opened = send(
        &app,
        as_user(&b, path_of::<LoadChat>(), json!({"key": key})),
    )
    .await;
    assert_eq!(opened.status, StatusCode::NOT_FOUND);
    let deleted = send(
        &app,
        as_user(
            &b,
            path_of::<DeleteChat>(),
            json!({"key": key, "base_revision": revision}),
        ),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
    let mine = send(
        &app,
        as_user(
            &a,
            path_of::<ListChats>(),
            json!({"folder": "Instruct", "query": null}),
        ),
    )
    .await;
    assert_eq!(mine.json().as_array().map(Vec::len), Some(1));

    // Logging in again from this browser ends its old session.
    let a2 = log_in(&app, "a", "1", Some(&a)).await;
    assert_ne!(a2, a);
    let old = send(
        &app,
        as_user(&a, path_of::<LoadChat>(), json!({"key": key})),
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    // Logout ends the session.
    let out = send(
        &app,
        Request::builder()
            .method(Method::POST)
            .uri("/logout")
            .header(header::COOKIE, &a2)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = send(
        &app,
        as_user(&a2, path_of::<LoadChat>(), json!({"key": key})),
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);

    // Sessions expire.
    let short = login_app(Duration::from_millis(300));
    let c = log_in(&short, "a", "1", None).await;
    let list = json!({"folder": "Instruct", "query": null});
    assert_eq!(
        send(&short, as_user(&c, path_of::<ListChats>(), list.clone()))
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        send(&short, as_user(&c, path_of::<ListChats>(), list))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn wrong_api_keys_are_throttled_and_logged() {
    let app = app_with(ServerConfig {
        api: ApiConfig {
            api_key: Some("right-key".into()),
            cors_origin: None,
        },
        ..ServerConfig::default()
    });
    let models = |key: &str| {
        Request::get("/v1/models")
            .header(header::AUTHORIZATION, format!("bearer {key}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        send(&app, models("right-key")).await.status,
        StatusCode::OK,
        "lowercase bearer"
    );
    assert_eq!(
        send(&app, models("guess")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut locked = 0;
    for _ in 0..20 {
        let a = send(&app, models("guess")).await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            locked += 1;
            assert!(a.headers.contains_key(header::RETRY_AFTER));
            assert_eq!(a.json()["error"]["code"], "too_many_attempts");
        }
    }
    assert_eq!(locked, 20, "guesses during the lockout are not checked");
}

#[tokio::test]
async fn server_function_errors_carry_their_status_and_no_paths() {
    let app = open_app();
    let root = app.dir.path().display().to_string();
    let missing = send(
        &app,
        post(
            path_of::<LoadChat>(),
            json!({"key": {"folder": "Instruct", "id": "nope"}}),
            &[],
        ),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad_args = send(&app, post(path_of::<LoadChat>(), json!({"key": 5}), &[])).await;
    assert_eq!(
        bad_args.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_args.body
    );
    assert!(!bad_args
        .body
        .contains("deserializing server function results"));
    let reserved = send(
        &app,
        post(path_of::<SaveCharacter>(), character("CON", "x"), &[]),
    )
    .await;
    assert_eq!(reserved.status, StatusCode::BAD_REQUEST);
    assert!(reserved.body.contains("Windows"), "{}", reserved.body);

    let key = new_instruct_chat(&app).await["key"].clone();
    let stale = send(
        &app,
        post(
            path_of::<DeleteChat>(),
            json!({"key": key, "base_revision": 99}),
            &[],
        ),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);

    std::fs::write(
        app.dir.path().join("characters/Broken.yaml"),
        "name: [unclosed\ncontext: the password is hunter2\n",
    )
    .unwrap();
    let broken = send(
        &app,
        post(path_of::<LoadCharacter>(), json!({"name": "Broken"}), &[]),
    )
    .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        broken.body.contains("characters/Broken.yaml is damaged"),
        "{}",
        broken.body
    );
    for a in [&missing, &bad_args, &reserved, &stale, &broken] {
        assert!(!a.body.contains(&root), "an absolute path: {}", a.body);
        assert!(!a.body.contains("hunter2"), "file contents: {}", a.body);
    }
    // Saving over the damaged file replaces it.
    let fixed = send(
        &app,
        post(path_of::<SaveCharacter>(), character("Broken", "ok"), &[]),
    )
    .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.body);

    // The API: a wrong method gets OpenAI's shape.
    let wrong = send(
        &app,
        Request::get("/v1/chat/completions")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.json()["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_six_megabyte_picture_uploads() {
    use base64::Engine as _;
    let app = open_app();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(6 << 20, 7);
    let body = json!({
        "name": "Assistant",
        "base64": base64::engine::general_purpose::STANDARD.encode(&png),
    });
    let a = send(&app, post(path_of::<UploadCharacterPicture>(), body, &[])).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        a.body.chars().take(300).collect::<String>()
    );
    let stored = std::fs::read(app.dir.path().join("characters/Assistant.png")).unwrap();
    assert_eq!(stored.len(), 6 << 20);
    // Past the limit: 413 with the UI's error, before the body is read.
    let huge = Request::builder()
        .method(Method::POST)
        .uri(path_of::<UploadCharacterPicture>())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, (64u64 << 20).to_string())
        .body(Body::from("{}"))
        .unwrap();
    let a = send(&app, huge).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(a.body.contains("TooLarge"), "{}", a.body);
}

/// A send refused because the engine is busy leaves the chat as it was:
/// no user turn without a reply. The API's 429 says when to retry.
#[tokio::test]
async fn a_busy_send_leaves_no_half_turn() {
    use app::{
        api::GenerateReply,
        types::{ChatAction, ChatSettings, GenerationParams, ReplyRequest},
    };
    use engine::{EngineOptions, GenerationJob, LoadOptions};
    let engine = Arc::new(Engine::load(
        &crate::common::smollm2_path(),
        EngineOptions {
            load: LoadOptions {
                parallel: 1,
                ..LoadOptions::default()
            },
            queue_capacity: 0,
            ..EngineOptions::default()
        },
    ));
    // The only slot is busy with a long reply.
    let eos = engine.model().unwrap().tokenizer.eos_ids().to_vec();
    let _busy = engine
        .submitter()
        .submit(
            GenerationJob {
                ban_eos: true,
                ..GenerationJob::greedy(vec![1, 2, 3], 2000, eos)
            },
            engine::Cancel::default(),
        )
        .unwrap();
    let app = app_on(engine, ServerConfig::default());
    let chat = new_instruct_chat(&app).await;
    let request = ReplyRequest {
        request_id: "r1".into(),
        key: serde_json::from_value(chat["key"].clone()).unwrap(),
        base_revision: chat["revision"].as_u64().unwrap(),
        action: ChatAction::Send {
            text: "Hello?".into(),
            attachments: Vec::new(),
        },
        settings: ChatSettings::default(),
        params: GenerationParams::greedy(5),
    };
    let refused = send(
        &app,
        post(
            path_of::<GenerateReply>(),
            json!({ "request": request }),
            &[],
        ),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    let reloaded = send(
        &app,
        post(path_of::<LoadChat>(), json!({"key": chat["key"]}), &[]),
    )
    .await;
    assert_eq!(reloaded.json()["messages"], json!([]), "no half turn");
    assert_eq!(reloaded.json()["revision"], chat["revision"]);

    let api = Request::builder()
        .method(Method::POST)
        .uri("/v1/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"prompt": "Hi", "max_tokens": 3}).to_string(),
        ))
        .unwrap();
    let busy = send(&app, api).await;
    assert_eq!(busy.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(busy.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn answers_forbid_framing_and_pages_have_a_nonce_policy() {
    let app = open_app();
    let a = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(a.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(a.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    // The app's page: scripts need the nonce its hydration script carries.
    let page = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"));
    assert!(
        page.body.contains(&format!("nonce=\"{nonce}\"")),
        "{}",
        page.body
    );
    assert!(
        policy.contains("frame-ancestors 'none'") && !policy.contains(" 'unsafe-eval'"),
        "{policy}"
    );
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
}

#[tokio::test]
async fn each_user_s_settings_are_their_own_and_kept_by_the_server() {
    use app::api::{LoadSettings, SaveSettings};
    let app = login_app(Duration::from_secs(3600));
    let a = log_in(&app, "a", "1", None).await;
    let b = log_in(&app, "b", "2", None).await;
    let as_user = |cookie: &str, path: &str, body: Value| post(path, body, &[("cookie", cookie)]);
    let nothing = send(&app, as_user(&a, path_of::<LoadSettings>(), json!({}))).await;
    assert_eq!(nothing.status, StatusCode::OK, "{}", nothing.body);
    assert_eq!(nothing.json(), Value::Null);

    let mine = json!({"settings": {
        "settings": {"user": {"name": "Ann", "bio": "Keeps bees."}, "mode": "chat"},
        "params": {"temperature": 1.3},
        "preset": "Creative"
    }});
    let saved = send(&app, as_user(&a, path_of::<SaveSettings>(), mine)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let text = std::fs::read_to_string(app.dir.path().join("users/a/settings.yaml")).unwrap();
    assert!(text.contains("name1: Ann"), "{text}");

    let loaded = send(&app, as_user(&a, path_of::<LoadSettings>(), json!({}))).await;
    assert_eq!(loaded.json()["settings"]["user"]["name"], "Ann");
    assert_eq!(loaded.json()["params"]["temperature"], 1.3);
    assert_eq!(loaded.json()["preset"], "Creative");
    // b sees none of a's.
    let theirs = send(&app, as_user(&b, path_of::<LoadSettings>(), json!({}))).await;
    assert_eq!(theirs.json(), Value::Null, "{}", theirs.body);
    // Out-of-range samplers are refused by name, and nothing is written.
    let bad = json!({"settings": {"params": {"top_p": 3}}});
    let refused = send(&app, as_user(&b, path_of::<SaveSettings>(), bad)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("top_p"), "{}", refused.body);
    assert!(!app.dir.path().join("users/b/settings.yaml").exists());
    // Without a login, nothing.
    let anonymous = send(&app, post(path_of::<LoadSettings>(), json!({}), &[])).await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );
}
