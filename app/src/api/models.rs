use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::types::{AppError, DownloadStatus, LoadChoice, ModelFile, ModelPanel, RemoteModelFile};

#[server(input = Json)]
pub async fn list_model_files() -> Result<Vec<ModelFile>, AppError> {
    Ok(crate::services::services()?.models.files())
}

#[server(input = Json)]
pub async fn load_model_panel() -> Result<ModelPanel, AppError> {
    Ok(crate::services::services()?.models.panel())
}

#[server(input = Json)]
pub async fn load_model_file(name: String, choice: LoadChoice) -> Result<(), AppError> {
    crate::services::services()?.models.load(&name, choice)
}

#[server(input = Json)]
pub async fn unload_model() -> Result<(), AppError> {
    crate::services::services()?.models.unload()
}

#[server(input = Json)]
pub async fn list_repo_files(repo: String) -> Result<Vec<RemoteModelFile>, AppError> {
    crate::services::services()?.models.remote_files(repo).await
}

#[server(input = Json)]
pub async fn start_download(repo: String, file: String) -> Result<u64, AppError> {
    crate::services::services()?.models.download(&repo, &file)
}

#[server(input = Json)]
pub async fn list_downloads() -> Result<Vec<DownloadStatus>, AppError> {
    Ok(crate::services::services()?.models.downloads())
}
