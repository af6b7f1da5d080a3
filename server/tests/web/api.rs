//! The OpenAI-compatible API on the real router with the real SmolLM2 model:
//! every endpoint, every error status, streaming, and cancellation.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use engine::Engine;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::{ApiConfig, ServerConfig};
use tower::ServiceExt;

const KEY: &str = "test-key";

use crate::support::TestApp;

fn app_with(engine: Engine, config: ApiConfig) -> TestApp {
    crate::support::app_on(
        Arc::new(engine),
        ServerConfig {
            api: config,
            ..ServerConfig::default()
        },
    )
}

fn app(queue: usize) -> TestApp {
    let engine = crate::common::cpu_engine(&crate::common::smollm2_path(), 1, queue);
    app_with(
        engine,
        ApiConfig {
            api_key: Some(KEY.into()),
            cors_origin: None,
        },
    )
}

fn request(method: Method, path: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header(header::CONTENT_TYPE, "application/json");
    match body {
        Some(b) => builder.body(Body::from(b.to_string())).unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

async fn call(app: &TestApp, req: Request<Body>) -> (StatusCode, Value) {
    let response = app.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    call(app, request(Method::POST, path, Some(body))).await
}

/// The `data:` payloads of an SSE body.
async fn sse_events(response: axum::response::Response) -> Vec<String> {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data: ").map(str::to_string))
        .collect()
}

fn hello(max_tokens: u32) -> Value {
    json!({
        "model": "anything",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": max_tokens,
        "temperature": 0,
    })
}

#[tokio::test]
async fn models_are_listed_and_looked_up() {
    let app = app(4);
    let (status, body) = call(&app, request(Method::GET, "/v1/models", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"][0]["id"], "SmolLM2-135M-Instruct.Q4_1.gguf");
    let (status, body) = call(
        &app,
        request(
            Method::GET,
            "/v1/models/SmolLM2-135M-Instruct.Q4_1.gguf",
            None,
        ),
    )
    .await;
    assert_eq!(
        (status, body["object"].as_str()),
        (StatusCode::OK, Some("model"))
    );
    let (status, body) = call(&app, request(Method::GET, "/v1/models/gpt-9", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn chat_completion_with_usage() {
    let app = app(4);
    let (status, body) = post(&app, "/v1/chat/completions", hello(6)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(!body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 6);
    let prompt_tokens = body["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt_tokens > 10);
    assert_eq!(
        body["usage"]["total_tokens"].as_u64().unwrap(),
        prompt_tokens + 6
    );
}

#[tokio::test]
async fn streamed_chat_completion_ends_with_usage_and_done() {
    let app = app(4);
    // Fewer tokens than the shortest greedy answer, so it ends by length.
    let mut body = hello(5);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = app
        .router
        .clone()
        .oneshot(request(Method::POST, "/v1/chat/completions", Some(body)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_events(response).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(content.len() >= 3, "{content:?}");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"].as_array().unwrap().len(), 0);
    assert_eq!(usage["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn completions_raw_prompt_streamed_and_not() {
    let app = app(4);
    let (status, body) = post(
        &app,
        "/v1/completions",
        json!({"prompt": "The capital of France is", "max_tokens": 5, "temperature": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert!(
        body["choices"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Paris"),
        "{body}"
    );

    let response = app
        .router
        .clone()
        .oneshot(request(
            Method::POST,
            "/v1/completions",
            Some(json!({"prompt": "Once upon a time", "max_tokens": 6, "stream": true})),
        ))
        .await
        .unwrap();
    let events = sse_events(response).await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert!(events.len() >= 4, "{events:?}");
}

#[tokio::test]
async fn invalid_fields_are_named_with_their_class_s_status() {
    let app = app(4);
    let cases = [
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}),
            "temperature",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "top_p": 2}),
            "top_p",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "n": 9}),
            "n",
        ),
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "function", "content": "x"}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "mode": "roleplay"}),
            "mode",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "character": "Nobody"}),
            "character",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "preset": "Nope"}),
            "preset",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "continue_": true}),
            "continue_",
        ),
        (json!({"model": "x"}), "messages"),
    ];
    for (body, param) in cases {
        let (status, answer) = post(&app, "/v1/chat/completions", body.clone()).await;
        // A named file that does not exist is 404, as in the UI (one
        // class, one status); everything else here is a bad value.
        let expected = if answer["error"]["code"] == "not_found" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, expected, "{body} -> {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert_eq!(answer["error"]["param"], param, "{body} -> {answer}");
    }
    let response = app
        .router
        .clone()
        .oneshot(
            Request::post("/v1/chat/completions")
                .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// Degenerate temperatures never panic the sampler: a subnormal one is
/// refused by name, and the smallest allowed one with `min_p` (whose kind used to
/// filter out every token) answers with the most likely tokens.
#[tokio::test]
async fn degenerate_temperatures_answer_without_a_panic() {
    let app = app(4);
    let ask = |extra: Value| {
        let mut body = json!({"prompt": "The capital of France is", "max_tokens": 4, "min_p": 0.1});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let (status, answer) = post(&app, "/v1/completions", ask(json!({"temperature": 1e-40}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["param"], "temperature", "{answer}");
    let (tiny, greedy) = (
        post(&app, "/v1/completions", ask(json!({"temperature": 0.0001}))).await,
        post(&app, "/v1/completions", ask(json!({"temperature": 0}))).await,
    );
    assert_eq!(tiny.0, StatusCode::OK, "{}", tiny.1);
    assert_eq!(
        tiny.1["choices"][0]["text"], greedy.1["choices"][0]["text"],
        "a vanishing temperature picks the most likely tokens"
    );
}

#[tokio::test]
async fn api_key_is_required() {
    let app = app(4);
    for auth in [None, Some("Bearer wrong"), Some("test-key")] {
        // Each failure locks the address out for a moment (see security.rs).
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let mut builder = Request::get("/v1/models");
        if let Some(a) = auth {
            builder = builder.header(header::AUTHORIZATION, a);
        }
        let (status, body) = call(&app, builder.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    // The web UI itself is not behind the API key.
    let response = app
        .router
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_endpoint_is_a_json_404() {
    let app = app(4);
    let (status, body) = post(&app, "/v1/embeddings", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "unknown_url");
}

#[tokio::test]
async fn no_model_is_503_and_lists_nothing() {
    let app = app_with(
        Engine::without_model("the file was missing".into()),
        ApiConfig::default(),
    );
    let req = |m, p, b: Option<Value>| {
        let r = Request::builder()
            .method(m)
            .uri(p)
            .header(header::CONTENT_TYPE, "application/json");
        r.body(b.map_or(Body::empty(), |b| Body::from(b.to_string())))
            .unwrap()
    };
    let (status, body) = call(
        &app,
        req(Method::POST, "/v1/chat/completions", Some(hello(4))),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "model_not_loaded");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("the file was missing"));
    let (status, body) = call(&app, req(Method::GET, "/v1/models", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_full_queue_answers_429() {
    let app = app(1);
    let long = |i: u32| {
        json!({
            "messages": [{"role": "user", "content": format!("Write a very long story number {i}.")}],
            "max_tokens": 2000,
            "stream": true,
            "ban_eos_token": true,
        })
    };
    // One running, one waiting: both responses are kept open.
    let running = app
        .router
        .clone()
        .oneshot(request(Method::POST, "/v1/chat/completions", Some(long(1))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = app
        .router
        .clone()
        .oneshot(request(Method::POST, "/v1/chat/completions", Some(long(2))))
        .await
        .unwrap();
    assert_eq!(
        (running.status(), waiting.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let (status, body) = post(&app, "/v1/chat/completions", long(3)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    // Stop everything so the test ends quickly.
    let (status, body) = post(&app, "/v1/internal/stop-generation", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["stopped"], 2);
}

#[tokio::test]
async fn a_client_that_disconnects_frees_the_engine_at_once() {
    let app = app(1);
    let long = json!({
        "messages": [{"role": "user", "content": "Write a very long story."}],
        "max_tokens": 3000,
        "ban_eos_token": true,
        "stream": true,
    });
    let response = app
        .router
        .clone()
        .oneshot(request(Method::POST, "/v1/chat/completions", Some(long)))
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    for _ in 0..3 {
        body.next().await.unwrap().unwrap();
    }
    drop(body); // the client goes away mid-stream
    let started = std::time::Instant::now();
    let (status, answer) = post(&app, "/v1/chat/completions", hello(4)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // 3000 tokens would take a minute; the abandoned reply must end at once.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn internal_endpoints() {
    let app = app(4);
    let (status, body) = post(&app, "/v1/internal/encode", json!({"text": "Hello world"})).await;
    assert_eq!(status, StatusCode::OK);
    let tokens = body["tokens"].clone();
    assert_eq!(
        body["length"].as_u64().unwrap() as usize,
        tokens.as_array().unwrap().len()
    );
    let (_, count) = post(
        &app,
        "/v1/internal/token-count",
        json!({"text": "Hello world"}),
    )
    .await;
    assert_eq!(count["length"], body["length"]);
    let (_, text) = post(&app, "/v1/internal/decode", json!({"tokens": tokens})).await;
    assert_eq!(text["text"], "Hello world");
    let (status, bad) = post(&app, "/v1/internal/decode", json!({"tokens": [99999999]})).await;
    assert_eq!(
        (status, bad["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("tokens"))
    );

    let (status, info) = call(&app, request(Method::GET, "/v1/internal/model/info", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["model_name"], "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(info["architecture"], "llama");

    let (status, prompt) = post(
        &app,
        "/v1/internal/chat-prompt",
        json!({
            "messages": [{"role": "user", "content": "你好"}],
            "mode": "chat-instruct",
            "character": "AI助理",
            "user_name": "小明",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{prompt}");
    let text = prompt["prompt"].as_str().unwrap();
    assert!(
        text.contains("Write a single reply for the character \"AI助理\""),
        "{text}"
    );
    assert!(text.contains("小明: 你好\n"), "{text}");
    assert!(
        text.contains("AI助理: 你好！我是你的AI助理"),
        "greeting first: {text}"
    );
    // The names' lines, and the end of a turn in SmolLM2's template (ChatML).
    assert_eq!(
        prompt["stopping_strings"],
        json!(["\n小明:", "\nAI助理:", "<|im_end|>"])
    );
    assert_eq!(prompt["prompt_tokens"].as_u64().unwrap() as usize, {
        let (_, c) = post(&app, "/v1/internal/token-count", json!({"text": text})).await;
        c["length"].as_u64().unwrap() as usize
    });
}

#[tokio::test]
async fn tgw_extras_shape_the_prompt() {
    let app = app(4);
    let (_, chat) = post(
        &app,
        "/v1/internal/chat-prompt",
        json!({
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Bye"}
            ],
            "mode": "chat",
            "context": "{{char}} talks to {{user}}.",
            "name2": "Bot",
            "name1": "Ann",
            "user_bio": "Ann likes tea.",
        }),
    )
    .await;
    assert_eq!(
        chat["prompt"],
        "Bot talks to Ann.\n\nAnn likes tea.\n\nAnn: Hi\nBot: Hello\nAnn: Bye\nBot:"
    );
    let (_, templated) = post(
        &app,
        "/v1/internal/chat-prompt",
        json!({
            "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
            "instruction_template_str": "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}",
        }),
    )
    .await;
    assert_eq!(
        templated["prompt"],
        "[system] Be terse.\n[user] Hi\n[assistant] "
    );
    let (_, named) = post(
        &app,
        "/v1/internal/chat-prompt",
        json!({"messages": [{"role": "user", "content": "Hi"}], "instruction_template": "ChatML"}),
    )
    .await;
    assert_eq!(
        named["prompt"],
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
    let (status, cont) = post(
        &app,
        "/v1/internal/chat-prompt",
        json!({
            "messages": [{"role": "user", "content": "Count"}, {"role": "assistant", "content": "1, 2,"}],
            "instruction_template": "ChatML",
            "continue_": true,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        cont["prompt"],
        "<|im_start|>user\nCount<|im_end|>\n<|im_start|>assistant\n1, 2,"
    );
}

#[tokio::test]
async fn cors_is_off_unless_an_origin_is_allowed() {
    let preflight = || {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/models")
            .header(header::ORIGIN, "http://localhost:3000")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap()
    };
    let engine = || Engine::without_model("none".into());
    let closed = app_with(engine(), ApiConfig::default());
    let response = closed.router.clone().oneshot(preflight()).await.unwrap();
    assert!(response
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    let open = app_with(
        engine(),
        ApiConfig {
            api_key: Some(KEY.into()),
            cors_origin: Some("http://localhost:3000".parse().unwrap()),
        },
    );
    let response = open.router.clone().oneshot(preflight()).await.unwrap();
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
}

#[tokio::test]
async fn health_and_metrics() {
    let app = app(4);
    let (status, body) = call(&app, request(Method::GET, "/health", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, _) = post(&app, "/v1/chat/completions", hello(3)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, text) = call(&app, request(Method::GET, "/metrics", None)).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap().to_string();
    assert!(text.contains("candlelight_requests_total 1\n"), "{text}");
    assert!(
        text.contains("candlelight_generated_tokens_total 3\n"),
        "{text}"
    );
    assert!(text.contains("candlelight_model_loaded 1\n"), "{text}");
    assert!(
        text.contains("candlelight_time_to_first_token_seconds_count 1\n"),
        "{text}"
    );

    let empty = app_with(Engine::without_model("gone".into()), ApiConfig::default());
    let (status, body) = call(&empty, request(Method::GET, "/health", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["reason"].as_str().unwrap().contains("gone"));
}

/// A chosen instruction template's own end-of-turn marker stops the reply:
/// Gemma 3 (a base model, trained on neither) asked through ChatML writes
/// `<|im_end|>` as plain text and then another turn; it must end there.
#[tokio::test]
async fn a_chosen_template_s_end_marker_stops_the_reply() {
    let engine = crate::common::cpu_engine(&crate::common::gemma_path(), 1, 2);
    let app = app_with(engine, ApiConfig::default());
    let body = |max_tokens: u32| {
        json!({
            "messages": [{"role": "user", "content": "Name three colours."}],
            "mode": "instruct",
            "instruction_template": "ChatML",
            "temperature": 0,
            "max_tokens": max_tokens,
        })
    };
    let (status, prepared) = call(
        &app,
        request(Method::POST, "/v1/internal/chat-prompt", Some(body(64))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{prepared}");
    let stops = prepared["stopping_strings"].as_array().unwrap();
    assert!(stops.contains(&json!("<|im_end|>")), "{stops:?}");

    let (status, reply) = call(
        &app,
        request(Method::POST, "/v1/chat/completions", Some(body(200))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let text = reply["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        !text.contains("<|im_end|>") && !text.contains("<|im_start|>"),
        "{text}"
    );
    assert_eq!(reply["choices"][0]["finish_reason"], "stop", "{reply}");
    assert!(
        reply["usage"]["completion_tokens"].as_u64().unwrap() < 200,
        "{reply}"
    );
}

/// `/v1/messages` answers in Anthropic's error shape even when the body
/// cannot be read as a JSON object (the SDK parses that shape).
#[tokio::test]
async fn anthropic_routes_refuse_unreadable_bodies_in_their_own_shape() {
    let app = app(2);
    for (path, body) in [
        ("/v1/messages", "{not json"),
        ("/v1/messages/count_tokens", "[1, 2]"),
    ] {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("x-api-key", KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, answer) = call(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["type"], "error", "{path}: {answer}");
        assert_eq!(
            answer["error"]["type"], "invalid_request_error",
            "{path}: {answer}"
        );
    }
}
