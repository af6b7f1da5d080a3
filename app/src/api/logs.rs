use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::types::{AppError, ChatEdit, ChatFolder, ChatKey, ChatLog, ChatSummary};

#[server(input = Json)]
pub async fn list_chats(
    folder: ChatFolder,
    query: Option<String>,
) -> Result<Vec<ChatSummary>, AppError> {
    let s = crate::services::services()?;
    s.logs.list(&s.caller, &folder, query.as_deref())
}

#[server(input = Json)]
pub async fn load_chat(key: ChatKey) -> Result<ChatLog, AppError> {
    let s = crate::services::services()?;
    s.logs.load(&s.caller, &key)
}

#[server(input = Json)]
pub async fn new_chat(folder: ChatFolder, user_name: String) -> Result<ChatLog, AppError> {
    let s = crate::services::services()?;
    s.logs.create(&s.caller, &folder, &user_name)
}

#[server(input = Json)]
pub async fn edit_chat(
    key: ChatKey,
    base_revision: u64,
    edit: ChatEdit,
) -> Result<ChatLog, AppError> {
    let s = crate::services::services()?;
    s.logs.edit(&s.caller, &key, base_revision, edit)
}

#[server(input = Json)]
pub async fn rename_chat(
    key: ChatKey,
    base_revision: u64,
    new_id: String,
) -> Result<ChatKey, AppError> {
    let s = crate::services::services()?;
    s.logs.rename(&s.caller, &key, base_revision, &new_id)
}

#[server(input = Json)]
pub async fn delete_chat(key: ChatKey, base_revision: u64) -> Result<(), AppError> {
    let s = crate::services::services()?;
    s.logs.delete(&s.caller, &key, base_revision)
}

#[server(input = Json)]
pub async fn branch_chat(key: ChatKey, upto: usize) -> Result<ChatLog, AppError> {
    let s = crate::services::services()?;
    s.logs.branch(&s.caller, &key, upto)
}

/// The chat as a text-generation-webui chat file (JSON text), to download.
#[server(input = Json)]
pub async fn export_chat(key: ChatKey) -> Result<String, AppError> {
    let s = crate::services::services()?;
    s.logs.export(&s.caller, &key)
}

/// A new chat in `folder` from a text-generation-webui chat file, sent as
/// base64 like pictures and cards.
#[server(input = Json)]
pub async fn import_chat(folder: ChatFolder, base64: String) -> Result<ChatLog, AppError> {
    let s = crate::services::services()?;
    s.logs
        .import(&s.caller, &folder, &super::decode_base64(&base64)?)
}
