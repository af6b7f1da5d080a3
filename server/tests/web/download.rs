//! Downloading a GGUF from a server with Hugging Face's URL layout:
//! progress, the sha256 check, and nothing left behind on failure.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{extract::Path, http::StatusCode, routing::get, Json, Router};
use domain::DownloadState;
use serde_json::json;
use server::Downloads;
use sha2::{Digest, Sha256};

fn payload() -> Vec<u8> {
    (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

/// Serves `good.gguf` (right checksum) and `bad.gguf` (listed with a wrong one).
async fn fake_hub() -> SocketAddr {
    let data = payload();
    let sha: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let size = data.len();
    let tree = move || {
        let sha = sha.clone();
        async move {
            Json(json!([
                {"type": "file", "path": "README.md", "size": 10},
                {"type": "file", "path": "good.gguf", "size": 134, "lfs": {"oid": sha, "size": size}},
                {"type": "file", "path": "bad.gguf", "size": 134, "lfs": {"oid": "0".repeat(64), "size": size}},
            ]))
        }
    };
    let file = move |Path(name): Path<String>| {
        let data = data.clone();
        async move {
            if name.ends_with(".gguf") {
                Ok(data)
            } else {
                Err(StatusCode::NOT_FOUND)
            }
        }
    };
    let app = Router::new()
        .route("/api/models/test-org/tiny-GGUF/tree/main", get(tree))
        .route("/test-org/tiny-GGUF/resolve/main/{name}", get(file));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn finish(downloads: &Downloads, id: u64) -> domain::DownloadStatus {
    for _ in 0..200 {
        let status = downloads.list().into_iter().find(|d| d.id == id).unwrap();
        if status.state != DownloadState::Running {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the download did not finish");
}

#[tokio::test]
async fn lists_downloads_and_verifies() {
    let hub = fake_hub().await;
    let dir = tempfile::tempdir().unwrap();
    let downloads = Arc::new(Downloads::new(&format!("http://{hub}"), dir.path()));

    let files = downloads.files("test-org/tiny-GGUF").await.unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["good.gguf", "bad.gguf"]);
    assert_eq!(files[0].size_bytes, payload().len() as u64);

    let id = downloads.start("test-org/tiny-GGUF", "good.gguf").unwrap();
    let done = finish(&downloads, id).await;
    assert_eq!(done.state, DownloadState::Done);
    assert_eq!(done.bytes, payload().len() as u64);
    assert_eq!(done.total, Some(payload().len() as u64));
    assert_eq!(
        std::fs::read(dir.path().join("good.gguf")).unwrap(),
        payload()
    );
    assert!(
        downloads.start("test-org/tiny-GGUF", "good.gguf").is_err(),
        "an existing file is not overwritten"
    );
}

#[tokio::test]
async fn a_wrong_checksum_or_missing_file_leaves_nothing() {
    let hub = fake_hub().await;
    let dir = tempfile::tempdir().unwrap();
    let downloads = Arc::new(Downloads::new(&format!("http://{hub}"), dir.path()));

    let id = downloads.start("test-org/tiny-GGUF", "bad.gguf").unwrap();
    match finish(&downloads, id).await.state {
        DownloadState::Failed(reason) => assert!(reason.contains("checksum"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let id = downloads
        .start("test-org/tiny-GGUF", "missing.gguf")
        .unwrap();
    match finish(&downloads, id).await.state {
        DownloadState::Failed(reason) => {
            assert!(reason.contains("not in the repository"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial files"
    );
    assert!(downloads.start("../etc", "x.gguf").is_err());
    assert!(downloads.start("test-org/tiny-GGUF", "../x.gguf").is_err());
}
