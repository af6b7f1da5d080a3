//! Bounded work for every request (issue "Bounded work for every
//! request"): each test holds one of the requests that exhausted memory,
//! held a connection or locked the owner out.

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use app::api::{ImportChat, LoadCharacter, SaveTemplate};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use base64::Engine as _;
use engine::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::{AccessPolicy, ApiConfig, ServerConfig};
use tower::ServiceExt;

use crate::security::{app_on, app_with, open_app, path_of, post, send, TestApp};

/// Templates render in worker processes here as in the server.
fn sandboxed() {
    server::sandbox::install(PathBuf::from(env!("CARGO_BIN_EXE_candlelight")), 2);
}

/// One SmolLM2 engine for the tests that need a tokenizer.
pub(crate) fn smollm2() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Arc::new(crate::common::cpu_engine(
                &crate::common::smollm2_path(),
                1,
                4,
            ))
        })
        .clone()
}

fn smollm2_app() -> TestApp {
    app_on(smollm2(), ServerConfig::default())
}

/// This process's peak resident memory (VmHWM), in bytes.
pub(crate) fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// A refusal came within 5 s and grew this process's peak memory by less
/// than 150 MB since `peak_before`.
fn assert_quick_and_small(started: Instant, peak_before: u64, what: &str) {
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{what} took {:?}",
        started.elapsed()
    );
    let grown = peak_rss().saturating_sub(peak_before);
    assert!(
        grown < 150 << 20,
        "{what} grew the peak by {} MB",
        grown >> 20
    );
}

/// Each builds a value of more than a gigabyte from a few bytes of source.
const MEMORY_BOMBS: [(&str, &str); 4] = [
    (
        "doubling with ~",
        "{% set a = 'x' * 100000000 %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a|length }}",
    ),
    (
        "a ~ a ~ a",
        "{% set a = 'x' * 60000000 %}{% set a = a ~ a ~ a %}{% set a = a ~ a ~ a %}{% set a = a ~ a ~ a %}{{ a|length }}",
    ),
    (
        ".replace()",
        "{% set a = 'x' * 10000000 %}{% set a = a.replace('x', 'xxxxxxxxxx') %}{% set a = a.replace('x', 'xxxxxxxxxx') %}{{ a|length }}",
    ),
    (
        "a macro's captured output",
        "{% macro twice(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(a='x' * 10000000) %}{% for i in range(9) %}{% set ns.a = twice(ns.a) %}{% endfor %}{{ ns.a|length }}",
    ),
];

#[tokio::test]
async fn templates_that_build_huge_values_are_refused_in_bounded_memory() {
    sandboxed();
    let app = smollm2_app();
    // A plain prompt first, so the model, its tokenizer and the worker
    // pool are in memory before the peak is read: only the bombs count.
    let warm = send(
        &app,
        post(
            "/v1/internal/chat-prompt",
            json!({"messages": [{"role": "user", "content": "Hi"}]}),
            &[],
        ),
    )
    .await;
    assert_eq!(warm.status, StatusCode::OK, "{}", warm.body);
    let before = peak_rss();
    for (what, source) in MEMORY_BOMBS {
        let started = Instant::now();
        let a = send(
            &app,
            post(
                "/v1/internal/chat-prompt",
                json!({"messages": [{"role": "user", "content": "Hi"}],
                       "instruction_template_str": source}),
                &[],
            ),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{what}: {}", a.body);
        let error = &a.json()["error"];
        assert_eq!(
            error["param"], "instruction_template_str",
            "{what}: {}",
            a.body
        );
        assert!(
            error["message"].as_str().unwrap().contains("memory"),
            "{what}: {}",
            a.body
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: {:?}",
            started.elapsed()
        );

        let saved = send(
            &app,
            post(
                path_of::<SaveTemplate>(),
                json!({"name": "Bomb", "source": source}),
                &[],
            ),
        )
        .await;
        assert_eq!(
            saved.status,
            StatusCode::BAD_REQUEST,
            "{what}: {}",
            saved.body
        );
        assert!(!app
            .dir
            .path()
            .join("instruction-templates/Bomb.yaml")
            .exists());
    }
    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 200 << 20,
        "the server's peak memory grew by {} MB",
        grown >> 20
    );

    // Real templates still render, through the same workers.
    let a = send(
        &app,
        post(
            "/v1/internal/chat-prompt",
            json!({"messages": [{"role": "user", "content": "Hi"}],
                   "instruction_template_str": "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"}),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        a.json()["prompt"].as_str().unwrap().contains("<user>Hi"),
        "{}",
        a.body
    );
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut r = Request::get(path).header(header::HOST, "127.0.0.1:7860");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::empty()).unwrap()
}

/// Behind a proxy every visitor has the proxy's address (here all test
/// requests share one): a stranger's wrong token must not lock out the
/// owner's cookie.
#[tokio::test]
async fn a_wrong_token_does_not_lock_out_the_owner() {
    let app = app_with(ServerConfig {
        access: AccessPolicy::Token("the-right-token".into()),
        ..ServerConfig::default()
    });
    let owner = [("cookie", "candlelight_token=the-right-token")];
    assert_eq!(
        send(&app, get("/metrics", &owner)).await.status,
        StatusCode::OK
    );
    for _ in 0..3 {
        let guess = send(&app, get("/?token=guess", &[])).await;
        assert!(
            matches!(
                guess.status,
                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
            ),
            "{}",
            guess.status
        );
        for path in ["/metrics", "/"] {
            let a = send(&app, get(path, &owner)).await;
            assert_eq!(a.status, StatusCode::OK, "{path} after a stranger's guess");
        }
    }
    // The guesser stays locked out.
    let again = send(&app, get("/?token=guess2", &[])).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
}

/// A request without a key is not a guess: it neither counts nor locks
/// anyone out, and the right key always passes.
#[tokio::test]
async fn missing_api_keys_are_not_guesses() {
    let app = app_with(ServerConfig {
        api: ApiConfig {
            api_key: Some("right-key".into()),
            cors_origin: None,
        },
        ..ServerConfig::default()
    });
    let models = |key: Option<&str>| {
        let mut r = Request::get("/v1/models");
        if let Some(k) = key {
            r = r.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        r.body(Body::empty()).unwrap()
    };
    for _ in 0..5 {
        assert_eq!(
            send(&app, models(None)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        send(&app, models(Some("right-key"))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, models(Some("wrong"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, models(Some("wrong"))).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(&app, models(Some("right-key"))).await.status,
        StatusCode::OK,
        "someone else's wrong key does not lock out the right one"
    );
}

/// Text far beyond the context is refused before the tokenizer sees it
/// (it takes ~60 times the text's size while it works).
#[tokio::test]
async fn text_far_beyond_the_context_is_refused_before_tokenizing() {
    let app = smollm2_app();
    let huge = "word ".repeat(2_300_000); // 11.5 MB
    let before = peak_rss();
    let started = Instant::now();
    let a = send(
        &app,
        post("/v1/internal/token-count", json!({ "text": huge }), &[]),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(a.json()["error"]["param"], "text", "{}", a.body);
    let message = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("-token context"), "{message}");
    let chat = send(
        &app,
        post(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "word ".repeat(1_000_000)}]}),
            &[],
        ),
    )
    .await;
    assert_eq!(chat.status, StatusCode::BAD_REQUEST, "{}", chat.body);
    assert_eq!(chat.json()["error"]["param"], "messages", "{}", chat.body);
    assert_quick_and_small(started, before, "tokenizing");

    // A character whose context on disk is 50 MB is refused by name.
    let big = app.dir.path().join("characters/Big.yaml");
    std::fs::write(
        &big,
        format!("name: Big\ncontext: {}\n", "x".repeat(50 << 20)),
    )
    .unwrap();
    let a = send(
        &app,
        post(path_of::<LoadCharacter>(), json!({"name": "Big"}), &[]),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("characters/Big.yaml"), "{}", a.body);
    let api = send(
        &app,
        post(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "Hi"}], "mode": "chat", "character": "Big"}),
            &[],
        ),
    )
    .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", api.body);
    assert_eq!(api.json()["error"]["param"], "character", "{}", api.body);
}

/// Damaged files in the user data folder are the file's problem (422,
/// named), not a server error.
#[tokio::test]
async fn damaged_user_files_are_named_not_server_errors() {
    let app = open_app();
    let chars = app.dir.path().join("characters");
    let alias_bomb = {
        let mut y = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            y.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        y.push_str("name: Bomb\n");
        y
    };
    let files: [(&str, Vec<u8>); 3] = [
        ("Latin", b"name: Jos\xe9\ncontext: caf\xe9\n".to_vec()),
        (
            "Deep",
            format!("name: Deep\nx: {}{}\n", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        ),
        ("Bomb", alias_bomb.into_bytes()),
    ];
    for (name, bytes) in files {
        std::fs::write(chars.join(format!("{name}.yaml")), bytes).unwrap();
        let started = Instant::now();
        let a = send(
            &app,
            post(path_of::<LoadCharacter>(), json!({ "name": name }), &[]),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            a.body
        );
        assert!(
            a.body.contains(&format!("characters/{name}.yaml")),
            "{name}: {}",
            a.body
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name}: {:?}",
            started.elapsed()
        );
    }
}

/// A chat file whose rows are not `[user, bot]` strings is refused, not
/// imported as an empty chat.
#[tokio::test]
async fn a_malformed_chat_file_is_refused_on_import() {
    let app = open_app();
    let file = base64::engine::general_purpose::STANDARD.encode(r#"{"internal":[[1,2]]}"#);
    let a = send(
        &app,
        post(
            path_of::<ImportChat>(),
            json!({"folder": "Instruct", "base64": file}),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(
        a.body.contains("not a text-generation-webui chat"),
        "{}",
        a.body
    );
}

/// A kill between a save's write and its rename leaves a temporary file:
/// the next start removes it.
#[test]
fn a_killed_save_s_temporary_file_is_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let chars = dir.path().join("characters");
    std::fs::create_dir_all(&chars).unwrap();
    let stale = chars.join(".K0.yaml.tmp-99999999-0");
    std::fs::write(&stale, "name: K0\n").unwrap();
    server::UserData::open(dir.path()).unwrap();
    assert!(!stale.exists());
}

/// Every 400 names its field and says what is wrong in the request's
/// terms: no `param: null`, no translated grammar, no parser dump.
#[tokio::test]
async fn refusals_name_their_field() {
    let app = smollm2_app();
    let hi = json!([{"role": "user", "content": "Hi"}]);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"messages": hi, "mode": "chat", "character": "../etc"}),
            "character",
        ),
        (json!({"messages": hi, "preset": "../x"}), "preset"),
        (
            json!({"messages": hi, "preset": "No Such Preset"}),
            "preset",
        ),
        (
            json!({"messages": hi, "instruction_template": "a/b"}),
            "instruction_template",
        ),
        (json!({"messages": hi, "name1": "x".repeat(300)}), "name1"),
        (json!({"messages": hi, "max_tokens": 20000}), "max_tokens"),
        (
            json!({"messages": hi, "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "string", "pattern": "(unclosed"}}}}),
            "response_format",
        ),
        (
            json!({"messages": hi, "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"$ref": "#/$defs/missing"}}}}),
            "response_format",
        ),
        (
            json!({"messages": hi, "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "strnig"}}}}),
            "response_format",
        ),
        (
            json!({"messages": hi, "grammar_string": "root ::= answer"}),
            "grammar_string",
        ),
    ];
    for (body, param) in cases {
        let a = send(&app, post("/v1/chat/completions", body.clone(), &[])).await;
        let expected = if a.json()["error"]["code"] == "not_found" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(a.status, expected, "{body}: {}", a.body);
        let error = &a.json()["error"];
        assert_eq!(error["param"], param, "{body}: {}", a.body);
        let message = error["message"].as_str().unwrap();
        assert!(
            !message.contains('\n') && !message.contains("g_") && !message.contains("start:"),
            "{body}: {message}"
        );
    }
}

/// `/v1/completions` follows `grammar_string` and `response_format` as
/// chat completions do (it ignored them before).
#[tokio::test]
async fn completions_follow_grammars() {
    let app = smollm2_app();
    let a = send(
        &app,
        post(
            "/v1/completions",
            json!({"prompt": "Is the sky blue? Answer:", "max_tokens": 8, "temperature": 0,
                   "grammar_string": "root ::= \" yes\" | \" no\""}),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let text = a.json()["choices"][0]["text"].as_str().unwrap().to_string();
    assert!(text == " yes" || text == " no", "{text:?}");
    let a = send(
        &app,
        post(
            "/v1/completions",
            json!({"prompt": "A JSON object describing a cat:", "max_tokens": 40, "temperature": 0,
                   "response_format": {"type": "json_object"}}),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let choice = &a.json()["choices"][0];
    if choice["finish_reason"] == "stop" {
        let parsed: Value = serde_json::from_str(choice["text"].as_str().unwrap()).unwrap();
        assert!(parsed.is_object(), "{parsed}");
    } else {
        assert!(
            choice["text"].as_str().unwrap().starts_with('{'),
            "{choice}"
        );
    }
    let a = send(
        &app,
        post(
            "/v1/completions",
            json!({"prompt": "x", "tools": [], "tool_choice": "auto"}),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(a.json()["error"]["param"], "tools");
}

/// A reply the server cuts off (shutdown, model switch, unload) ends with
/// an error a client can tell from a finished reply.
#[tokio::test]
async fn replies_cut_off_by_the_server_end_with_an_error() {
    let engine = Arc::new(crate::common::cpu_engine(
        &crate::common::smollm2_path(),
        1,
        4,
    ));
    let app = app_on(engine.clone(), ServerConfig::default());
    let request = post(
        "/v1/chat/completions",
        json!({"messages": [{"role": "user", "content": "Count to one thousand."}],
               "max_tokens": 2000, "stream": true, "ban_eos_token": true}),
        &[],
    );
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    while !text.contains("\"content\":\"") || text.matches("data:").count() < 3 {
        let frame = body.frame().await.unwrap().unwrap();
        if let Some(bytes) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(bytes));
        }
    }
    assert!(engine.interrupt_all() >= 1);
    while let Some(frame) = body.frame().await {
        if let Some(bytes) = frame.unwrap().data_ref() {
            text.push_str(&String::from_utf8_lossy(bytes));
        }
    }
    assert!(text.contains("reply_interrupted"), "{text}");
    assert!(!text.contains("\"finish_reason\":\"stop\""), "{text}");

    let waiting = tokio::spawn({
        let router = app.router.clone();
        async move {
            router
                .oneshot(post(
                    "/v1/chat/completions",
                    json!({"messages": [{"role": "user", "content": "Count to one thousand."}],
                           "max_tokens": 2000, "ban_eos_token": true}),
                    &[],
                ))
                .await
                .unwrap()
        }
    });
    // Once it is generating, the model is unloaded under it.
    while engine.metrics().active() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    engine.interrupt_all();
    let response = waiting.await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let error: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(error["error"]["code"], "reply_interrupted", "{error}");
}

/// The running-replies gauge drops to 0 as soon as the last reply ends.
#[tokio::test]
async fn the_active_gauge_is_zero_when_idle() {
    let engine = smollm2();
    let job = engine::GenerationJob::greedy(vec![1, 2, 3], 4, vec![0]);
    crate::common::collect(&engine, job).await;
    assert_eq!(engine.metrics().active(), 0);
    let app = app_on(engine, ServerConfig::default());
    let metrics = send(&app, get("/metrics", &[])).await;
    assert!(
        metrics.body.contains("candlelight_active_sequences 0\n"),
        "{}",
        metrics.body
    );
}

/// A corrupt model's reason on `/health` is one line: never a backtrace.
#[tokio::test]
async fn a_corrupt_model_s_reason_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.gguf");
    let mut bytes = b"GGUF\x03\x00\x00\x00".to_vec();
    bytes.extend_from_slice(&[0xff; 64]);
    std::fs::write(&path, bytes).unwrap();
    let engine = Arc::new(crate::common::cpu_engine(&path, 1, 1));
    let app = app_on(engine, ServerConfig::default());
    let health = send(&app, get("/health", &[])).await;
    assert_eq!(
        health.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        health.body
    );
    assert!(health.body.contains("broken.gguf"), "{}", health.body);
    assert!(!health.body.trim_end().contains('\n'), "{}", health.body);
    assert!(
        !health.body.contains(dir.path().to_str().unwrap()),
        "{}",
        health.body
    );
}

/// A TLS proxy that forwards `host:443` is the same site as the browser's
/// `https://host`.
#[tokio::test]
async fn a_proxy_s_default_port_is_the_same_origin() {
    let app = app_with(ServerConfig {
        access: AccessPolicy::Token("tok".into()),
        ..ServerConfig::default()
    });
    let a = send(
        &app,
        post(
            "/v1/internal/stop-generation",
            json!({}),
            &[
                ("x-forwarded-host", "u1.gpu.example:443"),
                ("origin", "https://u1.gpu.example"),
                ("authorization", "Bearer tok"),
            ],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

/// Connections that never finish their headers are closed after the
/// header timeout, and beyond a few waiting at once new ones are closed
/// at once; a whole request is still answered.
#[tokio::test]
async fn slow_headers_are_cut_off_and_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = open_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = server::listen::Limits {
        header_timeout: Duration::from_secs(1),
        max_pending: 4,
    };
    tokio::spawn(server::listen::serve(
        listener,
        app.router.clone(),
        limits,
        std::future::pending(),
    ));
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A fifth waits behind them: closed without an answer.
    let mut fifth = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = fifth.write_all(b"GET /health HTTP/1.1\r\n").await;
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_millis(500), fifth.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "{}", String::from_utf8_lossy(&buf[..n]));
    // The slow four are cut off after the timeout.
    let started = Instant::now();
    for mut s in slow {
        let closed = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a half-sent request was left open");
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // Room again: a whole request is answered.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
}

/// chat-instruct's command holds the transcript at each `<|prompt|>`: a
/// command that repeats it would build gigabytes in the server's own
/// process (no template sandbox is involved). Refused by name, at once, in
/// bounded memory.
#[tokio::test]
async fn a_command_that_multiplies_the_transcript_is_refused() {
    let app = smollm2_app();
    let before = peak_rss();
    let started = Instant::now();
    let r = send(
        &app,
        post(
            "/v1/chat/completions",
            json!({
                "mode": "chat-instruct",
                "chat_instruct_command": "<|prompt|>".repeat(100_000),
                "messages": [{"role": "user", "content": "word ".repeat(2_000)}],
                "max_tokens": 4,
            }),
            &[],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.json()["error"]["param"],
        "chat_instruct_command",
        "{}",
        r.body
    );
    assert_quick_and_small(started, before, "the request");
}
