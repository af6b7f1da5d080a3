//! The real binary: `--listen` prints a link with an access token and
//! refuses requests without it; SIGTERM ends running streams cleanly.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures::StreamExt;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start(args: &[&str]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_candlelight"))
        .args(args)
        .arg("--user-data-dir")
        .arg(data.path())
        .current_dir(crate::common::repo_path("."))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Server {
        child,
        lines,
        _data: data,
    }
}

fn wait_for_line(server: &Server, contains: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = server.lines.recv_timeout(Duration::from_millis(200)) {
            if line.contains(contains) {
                return line.trim().to_string();
            }
        }
    }
    panic!("the server never printed {contains:?}");
}

#[tokio::test]
async fn listen_prints_a_token_link_and_refuses_requests_without_it() {
    let port = free_port();
    let server = start(&[
        "--listen",
        "--listen-port",
        &port.to_string(),
        "--model",
        "/nonexistent.gguf",
    ]);
    let link = wait_for_line(&server, &format!("http://127.0.0.1:{port}/?token="));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");

    let page = client
        .get(format!("{base}/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    let api = client
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let path = <app::api::LoadModelStatus as leptos::server_fn::ServerFn>::PATH;
    let server_fn = client.post(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(server_fn.status(), 401);

    let opened = client
        .get(&link)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let page = client
        .get(format!("{base}/"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let wrong = client
        .get(format!("{base}/?token=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // The address is locked out for a moment, so guessing is slow...
    let again = client
        .get(format!("{base}/?token=wrong2"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 429, "a wrong token locks the address out");
    assert!(again.headers().contains_key("retry-after"));
    // ...but whoever holds the token is never kept out by it.
    let owner = client.get(&link).send().await.unwrap();
    assert_eq!(owner.status(), 200);
}

#[tokio::test]
async fn sigterm_ends_running_streams_cleanly() {
    let port = free_port();
    let model = crate::common::smollm2_path();
    let server = start(&[
        "--listen-port",
        &port.to_string(),
        "--model",
        model.to_str().unwrap(),
    ]);
    wait_for_line(&server, &format!("http://127.0.0.1:{port}/"));
    let body = serde_json::json!({
        "messages": [{"role": "user", "content": "Write an endless story."}],
        "max_tokens": 3000,
        "ban_eos_token": true,
        "stream": true,
    });
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    while text.matches("data: ").count() < 5 {
        text.push_str(&String::from_utf8_lossy(
            &stream.next().await.unwrap().unwrap(),
        ));
    }
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    // Cut off by the server, not finished: the client is told so.
    assert!(
        text.contains("\"code\":\"reply_interrupted\""),
        "the reply ends with an error: {}",
        &text[text.len().saturating_sub(400)..]
    );
    assert!(!text.contains("\"finish_reason\":\"stop\""));
    assert!(
        text.trim_end().ends_with("data: [DONE]"),
        "{}",
        &text[text.len().saturating_sub(200)..]
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
