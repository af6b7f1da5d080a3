//! Downloading a GGUF from a Hugging Face repository (or a mirror with the
//! same URL layout, `--hf-endpoint` / `HF_ENDPOINT`) into the model folder,
//! with progress, checked against the sha256 the repository lists. A file
//! that fails the check, or an interrupted download, leaves nothing behind.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use domain::{DownloadState, DownloadStatus, RemoteModelFile};
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::AsyncWriteExt;

#[derive(Debug, Error)]
pub enum DownloadError {
    #[error("`{0}` is not a repository name (owner/name)")]
    BadRepo(String),
    #[error("`{0}` is not a GGUF file name in the repository")]
    BadFile(String),
    #[error("{0} already exists in the model folder")]
    Exists(String),
    #[error("could not reach {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{0} is not in the repository")]
    NotInRepo(String),
    #[error("the download does not match the repository's checksum (expected sha256 {expected}, got {got}); it was deleted")]
    Checksum { expected: String, got: String },
    #[error("writing {path} failed: {reason}")]
    Io { path: String, reason: String },
}

/// One file of the repository listing (`/api/models/{repo}/tree/main`).
#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    lfs: Option<LfsInfo>,
}

#[derive(Deserialize)]
struct LfsInfo {
    oid: String,
    size: u64,
}

struct Job {
    status: Mutex<DownloadStatus>,
    bytes: AtomicU64,
}

pub struct Downloads {
    endpoint: String,
    dir: PathBuf,
    client: reqwest::Client,
    jobs: Mutex<Vec<Arc<Job>>>,
    next_id: AtomicU64,
}

fn valid_repo(repo: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    matches!(repo.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

fn valid_file(file: &str) -> bool {
    file.ends_with(".gguf")
        && !file.starts_with('/')
        && file
            .split('/')
            .all(|p| !p.is_empty() && p != ".." && p != ".")
        && !file.contains('\\')
}

impl Downloads {
    pub fn new(endpoint: &str, dir: &Path) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            dir: dir.to_path_buf(),
            client: reqwest::Client::new(),
            jobs: Mutex::default(),
            next_id: AtomicU64::new(1),
        }
    }

    async fn tree(&self, repo: &str) -> Result<Vec<TreeEntry>, DownloadError> {
        if !valid_repo(repo) {
            return Err(DownloadError::BadRepo(repo.to_string()));
        }
        let url = format!("{}/api/models/{repo}/tree/main", self.endpoint);
        let http = |reason: String| DownloadError::Http {
            url: url.clone(),
            reason,
        };
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(http(format!("HTTP {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|e| http(format!("unexpected listing: {e}")))
    }

    /// The GGUF files a repository offers.
    pub async fn files(&self, repo: &str) -> Result<Vec<RemoteModelFile>, DownloadError> {
        Ok(self
            .tree(repo)
            .await?
            .into_iter()
            .filter(|e| e.kind == "file" && e.path.ends_with(".gguf"))
            .map(|e| RemoteModelFile {
                size_bytes: e.lfs.as_ref().map_or(e.size, |l| l.size),
                name: e.path,
            })
            .collect())
    }

    /// Starts downloading `file` from `repo`; progress is in [`Self::list`].
    pub fn start(self: &Arc<Self>, repo: &str, file: &str) -> Result<u64, DownloadError> {
        if !valid_repo(repo) {
            return Err(DownloadError::BadRepo(repo.to_string()));
        }
        if !valid_file(file) {
            return Err(DownloadError::BadFile(file.to_string()));
        }
        let local = file.rsplit('/').next().unwrap_or(file).to_string();
        if self.dir.join(&local).exists() {
            return Err(DownloadError::Exists(local));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let job = Arc::new(Job {
            status: Mutex::new(DownloadStatus {
                id,
                repo: repo.to_string(),
                file: file.to_string(),
                bytes: 0,
                total: None,
                state: DownloadState::Running,
            }),
            bytes: AtomicU64::new(0),
        });
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(job.clone());
        let this = self.clone();
        let (repo, file) = (repo.to_string(), file.to_string());
        tokio::spawn(async move {
            let result = this.fetch(&job, &repo, &file, &local).await;
            let mut status = job.status.lock().unwrap_or_else(|e| e.into_inner());
            status.bytes = job.bytes.load(Ordering::Relaxed);
            status.state = match result {
                Ok(()) => {
                    tracing::info!(repo, file, "download finished and verified");
                    DownloadState::Done
                }
                Err(e) => {
                    tracing::warn!(repo, file, error = %e, "download failed");
                    DownloadState::Failed(e.to_string())
                }
            };
        });
        Ok(id)
    }

    /// Every download of this session, newest first.
    pub fn list(&self) -> Vec<DownloadStatus> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter()
            .rev()
            .map(|j| {
                let mut s = j.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
                s.bytes = j.bytes.load(Ordering::Relaxed);
                s
            })
            .collect()
    }

    async fn fetch(
        &self,
        job: &Job,
        repo: &str,
        file: &str,
        local: &str,
    ) -> Result<(), DownloadError> {
        let entry = self
            .tree(repo)
            .await?
            .into_iter()
            .find(|e| e.kind == "file" && e.path == file)
            .ok_or_else(|| DownloadError::NotInRepo(file.to_string()))?;
        let (expected_sha, expected_size) = match &entry.lfs {
            Some(lfs) => (Some(lfs.oid.to_lowercase()), lfs.size),
            None => (None, entry.size),
        };
        job.status.lock().unwrap_or_else(|e| e.into_inner()).total = Some(expected_size);

        let url = format!("{}/{repo}/resolve/main/{file}", self.endpoint);
        let http = |reason: String| DownloadError::Http {
            url: url.clone(),
            reason,
        };
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| http(e.to_string()))?;
        if !response.status().is_success() {
            return Err(http(format!("HTTP {}", response.status())));
        }
        let partial = self.dir.join(format!(".{local}.partial"));
        let io = |e: std::io::Error| DownloadError::Io {
            path: local.to_string(),
            reason: e.to_string(),
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let written = async {
            let mut out = tokio::fs::File::create(&partial).await.map_err(io)?;
            let mut hasher = Sha256::new();
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| http(e.to_string()))?;
                hasher.update(&chunk);
                out.write_all(&chunk).await.map_err(io)?;
                job.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            out.sync_all().await.map_err(io)?;
            let got: String = hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if let Some(expected) = &expected_sha {
                if *expected != got {
                    return Err(DownloadError::Checksum {
                        expected: expected.clone(),
                        got,
                    });
                }
            }
            tokio::fs::rename(&partial, self.dir.join(local))
                .await
                .map_err(io)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_repo("Qwen/Qwen2.5-0.5B-Instruct-GGUF"));
        for bad in ["", "noslash", "a/b/c", "../x", "a/.."] {
            assert!(!valid_repo(bad), "{bad}");
        }
        assert!(valid_file("qwen2.5-0.5b-instruct-q4_k_m.gguf"));
        assert!(valid_file("sub/model.gguf"));
        for bad in ["x.bin", "../x.gguf", "/etc/x.gguf", "a/../x.gguf"] {
            assert!(!valid_file(bad), "{bad}");
        }
    }
}
