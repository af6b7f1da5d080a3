//! Files attached to a chat message, through the server functions the
//! page calls: read (text, PDF, and files that must be refused), sent with
//! a message into the prompt and the chat file, and a PDF bomb that costs
//! a document worker, never the server.

use std::{
    io::Write,
    path::PathBuf,
    time::{Duration, Instant},
};

use app::{
    api::{GenerateReply, LoadChat, NewChat, ReadAttachment},
    types::{Attachment, ChatAction, ChatSettings, GenerationParams, ReplyRequest},
};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{json, Value};
use server::ServerConfig;

use crate::security::{app_on, path_of, post, send, Answer, TestApp};

fn smollm2_app() -> TestApp {
    app_on(crate::bounds::smollm2(), ServerConfig::default())
}

async fn read(app: &TestApp, name: &str, bytes: &[u8]) -> Answer {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    send(
        app,
        post(
            path_of::<ReadAttachment>(),
            json!({"name": name, "data": data}),
            &[],
        ),
    )
    .await
}

/// A one-page PDF whose only content stream is `stream`, deflated.
fn pdf_with_stream(stream: &[u8]) -> Vec<u8> {
    let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    deflated.write_all(stream).unwrap();
    let deflated = deflated.finish().unwrap();
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, n: usize, head: &str, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{n} 0 obj\n{head}").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    object(&mut out, 1, "<< /Type /Catalog /Pages 2 0 R >>", b"");
    object(
        &mut out,
        2,
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"",
    );
    object(&mut out, 3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>", b"");
    let head = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        deflated.len()
    );
    let mut body = deflated;
    body.extend_from_slice(b"\nendstream");
    object(&mut out, 4, &head, &body);
    object(
        &mut out,
        5,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"",
    );
    let xref = out.len();
    out.extend_from_slice(b"xref\n0 6\n0000000000 65535 f \n");
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    out
}

#[tokio::test]
async fn files_are_read_with_token_counts_or_refused_with_reasons() {
    let app = smollm2_app();
    let a = read(&app, "notes.txt", b"The password is HERON-42.").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let preview = a.json();
    assert_eq!(
        preview["attachment"]["content"],
        "The password is HERON-42."
    );
    let tokens = preview["tokens"].as_u64().unwrap();
    assert!((5..25).contains(&tokens), "SmolLM2 tokens: {tokens}");

    let pdf = pdf_with_stream(b"BT /F1 12 Tf 72 720 Td (Room 7B on Thursday.) Tj ET");
    let a = read(&app, "memo.pdf", &pdf).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["attachment"]["content"], "Room 7B on Thursday.");
    assert_eq!(a.json()["attachment"]["type"], "application/pdf");

    let too_big = vec![b'a'; domain::MAX_ATTACHMENT_BYTES + 1];
    let a = read(&app, "big.txt", &too_big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);
    assert!(a.body.contains("a file can be at most 8 MB"), "{}", a.body);

    for (name, bytes, says) in [
        ("cat.png", &b"\x89PNG\r\n\x1a\n"[..], "cannot see images"),
        ("memo.pdf", b"plain words", "memo.pdf is not a PDF"),
        (
            "notes.docx",
            b"plain words",
            "notes.docx is not a Word document",
        ),
        ("notes.txt", b"\xff\xfe\x00\x00", "UTF-16"),
    ] {
        let a = read(&app, name, bytes).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}: {}", a.body);
        assert!(a.body.contains(says), "{name}: {}", a.body);
    }
}

#[tokio::test]
async fn a_pdf_that_unpacks_to_gigabytes_costs_a_worker_not_the_server() {
    server::attachments::install(PathBuf::from(env!("CARGO_BIN_EXE_candlelight")), 1);
    let app = smollm2_app();
    // 800 MB of spaces deflate to a file within the 8 MB a user may attach.
    let mut stream = b"BT /F1 12 Tf 72 720 Td (".to_vec();
    stream.resize(800 << 20, b' ');
    stream.extend_from_slice(b") Tj ET");
    let bomb = pdf_with_stream(&stream);
    drop(stream);
    assert!(
        bomb.len() < domain::MAX_ATTACHMENT_BYTES,
        "{} bytes",
        bomb.len()
    );

    let before = crate::bounds::peak_rss();
    let started = Instant::now();
    let a = read(&app, "bomb.pdf", &bomb).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(
        a.body
            .contains("bomb.pdf is refused: reading it needed more than 512 MB of memory"),
        "{}",
        a.body
    );
    assert!(started.elapsed() < Duration::from_secs(25));
    let grown = crate::bounds::peak_rss().saturating_sub(before);
    assert!(
        grown < 100 << 20,
        "the server's peak grew by {} MB",
        grown >> 20
    );

    // The next file is read by a fresh worker.
    let pdf = pdf_with_stream(b"BT /F1 12 Tf 72 720 Td (Still here.) Tj ET");
    let a = read(&app, "memo.pdf", &pdf).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["attachment"]["content"], "Still here.");
}

#[tokio::test]
async fn a_message_s_files_enter_the_prompt_and_the_chat_file() {
    let app = smollm2_app();
    let chat = send(
        &app,
        post(
            path_of::<NewChat>(),
            json!({"folder": "Instruct", "user_name": ""}),
            &[],
        ),
    )
    .await
    .json();
    let file = Attachment {
        name: "notes.txt".into(),
        kind: "text/plain".into(),
        content: "The password is HERON-42.".into(),
    };
    let request = ReplyRequest {
        request_id: "r1".into(),
        key: serde_json::from_value(chat["key"].clone()).unwrap(),
        base_revision: chat["revision"].as_u64().unwrap(),
        action: ChatAction::Send {
            text: "What is the password?".into(),
            attachments: vec![file.clone()],
        },
        settings: ChatSettings::default(),
        params: GenerationParams::greedy(3),
    };
    let a = send(
        &app,
        post(
            path_of::<GenerateReply>(),
            json!({ "request": request }),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let prompt = a
        .events()
        .into_iter()
        .find(|e| e["type"] == "prompt")
        .and_then(|e| e["text"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no prompt event in {}", a.body));
    assert!(
        prompt.contains("What is the password?\n\nATTACHMENTS:\n\nName: notes.txt\nContents:\n\n=====\nThe password is HERON-42.\n=====\n"),
        "{prompt}"
    );

    let saved = send(
        &app,
        post(path_of::<LoadChat>(), json!({"key": chat["key"]}), &[]),
    )
    .await
    .json();
    assert_eq!(saved["messages"][0]["attachments"][0]["name"], "notes.txt");
    assert_eq!(saved["messages"][0]["versions"][0], "What is the password?");
    let id = chat["key"]["id"].as_str().unwrap();
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(app.dir.path().join(format!("logs/instruct/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        on_disk["metadata"]["user_0"]["attachments"][0],
        json!({"name": "notes.txt", "type": "text/plain", "content": "The password is HERON-42."})
    );

    // Eleven files are refused by the server too, and nothing is saved.
    let request = ReplyRequest {
        request_id: "r2".into(),
        base_revision: saved["revision"].as_u64().unwrap(),
        action: ChatAction::Send {
            text: "More?".into(),
            attachments: vec![file; 11],
        },
        ..request
    };
    let a = send(
        &app,
        post(
            path_of::<GenerateReply>(),
            json!({ "request": request }),
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("at most 10 files"), "{}", a.body);
}
