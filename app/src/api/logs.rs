use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::types::{AppError, ChatEdit, ChatFolder, ChatKey, ChatLog, ChatSummary};

#[server(input = Json)]
pub async fn list_chats(
    folder: ChatFolder,
    query: Option<String>,
) -> Result<Vec<ChatSummary>, AppError> {
    crate::services::services()?
        .logs
        .list(&folder, query.as_deref())
}

#[server(input = Json)]
pub async fn load_chat(key: ChatKey) -> Result<ChatLog, AppError> {
    crate::services::services()?.logs.load(&key)
}

#[server(input = Json)]
pub async fn new_chat(folder: ChatFolder) -> Result<ChatLog, AppError> {
    crate::services::services()?.logs.create(&folder)
}

#[server(input = Json)]
pub async fn edit_chat(
    key: ChatKey,
    base_revision: u64,
    edit: ChatEdit,
) -> Result<ChatLog, AppError> {
    crate::services::services()?
        .logs
        .edit(&key, base_revision, edit)
}

#[server(input = Json)]
pub async fn rename_chat(key: ChatKey, new_id: String) -> Result<ChatKey, AppError> {
    crate::services::services()?.logs.rename(&key, &new_id)
}

#[server(input = Json)]
pub async fn delete_chat(key: ChatKey) -> Result<(), AppError> {
    crate::services::services()?.logs.delete(&key)
}

#[server(input = Json)]
pub async fn branch_chat(key: ChatKey, upto: usize) -> Result<ChatLog, AppError> {
    crate::services::services()?.logs.branch(&key, upto)
}
