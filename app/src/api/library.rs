use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::types::{AppError, CardImport, Character, CharacterInfo, GenerationParams, PresetInfo};

#[cfg(feature = "ssr")]
fn library() -> Result<std::sync::Arc<dyn crate::services::LibraryService>, AppError> {
    Ok(crate::services::services()?.library)
}

#[server(input = Json)]
pub async fn list_characters() -> Result<Vec<String>, AppError> {
    library()?.characters()
}

#[server(input = Json)]
pub async fn load_character(name: String) -> Result<CharacterInfo, AppError> {
    library()?.character(&name)
}

#[server(input = Json)]
pub async fn save_character(
    character: Character,
    copy_from: Option<String>,
) -> Result<(), AppError> {
    library()?.save_character(character, copy_from)
}

#[server(input = Json)]
pub async fn delete_character(name: String) -> Result<(), AppError> {
    library()?.delete_character(&name)
}

#[server(input = Json)]
pub async fn upload_character_picture(name: String, base64: String) -> Result<(), AppError> {
    library()?.set_picture(&name, &super::decode_base64(&base64)?)
}

#[server(input = Json)]
pub async fn import_character_card(base64: String) -> Result<CardImport, AppError> {
    library()?.import_card(&super::decode_base64(&base64)?)
}

#[server(input = Json)]
pub async fn list_presets() -> Result<Vec<String>, AppError> {
    library()?.presets()
}

#[server(input = Json)]
pub async fn load_preset(name: String) -> Result<PresetInfo, AppError> {
    library()?.preset(&name)
}

#[server(input = Json)]
pub async fn save_preset(name: String, params: GenerationParams) -> Result<(), AppError> {
    library()?.save_preset(&name, &params)
}

#[server(input = Json)]
pub async fn delete_preset(name: String) -> Result<(), AppError> {
    library()?.delete_preset(&name)
}

#[server(input = Json)]
pub async fn list_templates() -> Result<Vec<String>, AppError> {
    library()?.templates()
}

#[server(input = Json)]
pub async fn load_template(name: String) -> Result<String, AppError> {
    library()?.template(&name)
}

#[server(input = Json)]
pub async fn save_template(name: String, source: String) -> Result<(), AppError> {
    library()?.save_template(&name, &source)
}

#[server(input = Json)]
pub async fn delete_template(name: String) -> Result<(), AppError> {
    library()?.delete_template(&name)
}
