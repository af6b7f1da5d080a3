//! The Chat tab's tool loop through the server functions the page calls,
//! on a reply whose calls are already in the chat file (what a model that
//! called tools leaves there): a call waits for the user, a decision from
//! a stale tab is refused, and `RunTools` runs the approved call (the
//! built-in calculator), gives the model the result and the rejection
//! through the template, marks them read, and lets the reply go on.

use app::{
    api::{EditChat, GenerateReply, LoadChat, NewChat, StopReply},
    types::{ChatAction, ChatSettings, GenerationParams, ReplyRequest},
};
use axum::http::StatusCode;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use server::ServerConfig;

use crate::security::{app_on, path_of, post, send, Answer, TestApp};

async fn call<T: ServerFn>(app: &TestApp, body: Value) -> Answer {
    send(app, post(path_of::<T>(), body, &[])).await
}

fn run_tools(key: &Value, revision: u64) -> Value {
    let request = ReplyRequest {
        request_id: "tools".into(),
        key: serde_json::from_value(key.clone()).unwrap(),
        base_revision: revision,
        action: ChatAction::RunTools,
        settings: ChatSettings::default(),
        params: GenerationParams::greedy(4),
    };
    json!({ "request": request })
}

/// Writes the instruct chat `key` as `file` (a chat file a model's reply
/// with calls left behind).
fn write_chat(app: &TestApp, key: &Value, file: &Value) {
    let id = key["id"].as_str().unwrap();
    let path = app.dir.path().join(format!("logs/instruct/{id}.json"));
    std::fs::write(path, file.to_string()).unwrap();
}

fn decide(key: &Value, revision: u64, id: &str, approve: bool) -> Value {
    json!({
        "key": key,
        "base_revision": revision,
        "edit": {"DecideToolCall": {"id": id, "approve": approve}},
    })
}

#[tokio::test]
async fn approved_calls_run_and_the_reply_goes_on_with_their_results() {
    let app = app_on(crate::bounds::smollm2(), ServerConfig::default());
    let chat = call::<NewChat>(&app, json!({"folder": "Instruct", "user_name": ""}))
        .await
        .json();
    let key = chat["key"].clone();
    // A reply that called the calculator twice, both waiting for the user.
    let pending = |id: &str, expression: &str| {
        json!({"id": id, "version": 0, "at": 16, "name": "calculator",
               "arguments": format!("{{\"expression\": \"{expression}\"}}"),
               "state": "pending"})
    };
    let file = json!({
        "internal": [["What is 6*7, and 1/0?", "Let me compute."]],
        "visible": [["What is 6*7, and 1/0?", "Let me compute."]],
        "metadata": {
            "candlelight_tools": {"enabled": ["calculator"], "always_allow": []},
            "assistant_0": {"candlelight_tool_uses": [pending("call_a", "6*7"), pending("call_b", "1/0")]},
        },
        "candlelight_revision": 5,
    });
    write_chat(&app, &key, &file);

    // Nothing runs while a call waits for Approve or Reject.
    let a = call::<GenerateReply>(&app, run_tools(&key, 5)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(
        a.body.contains("still waits for Approve or Reject"),
        "{}",
        a.body
    );

    let a = call::<EditChat>(&app, decide(&key, 5, "call_a", true)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // A tab that has not seen that decision cannot make another.
    let stale = call::<EditChat>(&app, decide(&key, 5, "call_b", false)).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    let a = call::<EditChat>(&app, decide(&key, 6, "call_b", false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["messages"][1]["tool_uses"][1]["state"], "rejected");

    let a = call::<GenerateReply>(&app, run_tools(&key, 7)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let events = a.events();
    let of = |kind: &str| events.iter().find(|e| e["type"] == kind).cloned();
    assert_eq!(of("placed").unwrap()["placement"], "extend");
    assert_eq!(of("running_tool").unwrap()["name"], "calculator");
    let uses = of("tool_uses").unwrap()["uses"].clone();
    assert_eq!(uses[0]["state"], "done");
    assert_eq!(uses[0]["result"], "42");
    // The model read the result and the refusal as tool turns.
    let prompt = of("prompt").unwrap()["text"].as_str().unwrap().to_string();
    assert!(prompt.contains("tool\n42"), "{prompt}");
    assert!(
        prompt.contains("The user rejected this tool call."),
        "{prompt}"
    );
    assert!(of("done").is_some(), "{}", a.body);

    let saved = call::<LoadChat>(&app, json!({"key": key})).await.json();
    let reply = &saved["messages"][1];
    assert!(reply["tool_uses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["delivered"] == true));
    let text = reply["versions"][0].as_str().unwrap();
    assert!(
        text.starts_with("Let me compute.") && text.len() > 16,
        "{text}"
    );

    // Nothing is left to run.
    let revision = saved["revision"].as_u64().unwrap();
    let a = call::<GenerateReply>(&app, run_tools(&key, revision)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("no tool calls"), "{}", a.body);
}

/// Stop while an approved call runs (the tests' MCP server's `slow`
/// tool, on the Python SDK over stdio) ends the call and the loop: the
/// call is saved as stopped, and the reply does not go on.
#[tokio::test]
async fn stop_ends_a_running_call_and_the_loop() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join(".venv/bin/python");
    let has_sdk = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_sdk {
        crate::common::skip(
            "stop_ends_a_running_call_and_the_loop",
            "no .venv with the Python mcp SDK (make test installs it)",
        );
        return;
    }
    let app = std::sync::Arc::new(app_on(crate::bounds::smollm2(), ServerConfig::default()));
    let config = json!({"mcpServers": {"weather": {
        "command": python,
        "args": [repo.join("end2end/mcp/weather_server.py")],
    }}});
    std::fs::write(app.dir.path().join("mcp.json"), config.to_string()).unwrap();
    let chat = call::<NewChat>(&app, json!({"folder": "Instruct", "user_name": ""}))
        .await
        .json();
    let key = chat["key"].clone();
    let file = json!({
        "internal": [["Wait a minute.", ""]],
        "visible": [["Wait a minute.", ""]],
        "metadata": {
            "candlelight_tools": {"enabled": ["slow"], "always_allow": ["slow"]},
            "assistant_0": {"candlelight_tool_uses": [{"id": "call_s", "version": 0, "at": 0,
                "name": "slow", "arguments": "{\"seconds\": 60}", "state": "approved"}]},
        },
        "candlelight_revision": 3,
    });
    write_chat(&app, &key, &file);

    let started = std::time::Instant::now();
    let running = {
        let (app, body) = (app.clone(), run_tools(&key, 3));
        tokio::spawn(async move { call::<GenerateReply>(&app, body).await })
    };
    // Stop once the call runs (the server started, and `slow` sleeps).
    let mut stopped = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let a = call::<StopReply>(&app, json!({"request_id": "tools"})).await;
        if a.json() == json!(true) {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "the call never showed as running");
    let a = running.await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let events = a.events();
    assert!(events
        .iter()
        .any(|e| e["type"] == "running_tool" && e["name"] == "slow"));
    assert!(
        events.iter().all(|e| e["type"] != "prompt"),
        "no reply after Stop: {}",
        a.body
    );
    let done = events
        .iter()
        .find(|e| e["type"] == "done")
        .expect("a done event");
    assert_eq!(done["finish_reason"], "cancelled");

    let saved = call::<LoadChat>(&app, json!({"key": key})).await.json();
    let call = &saved["messages"][1]["tool_uses"][0];
    assert_eq!(call["state"], "failed");
    assert!(
        call["result"].as_str().unwrap().contains("stopped"),
        "{call}"
    );
}
