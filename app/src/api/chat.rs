use leptos::prelude::*;
use leptos::server_fn::codec::{ByteStream, Json, Streaming};

use crate::types::{
    AppError, AttachmentPreview, CompletionRequest, ModelStatus, ReplyRequest, ToolCatalog,
};

/// Streams the reply as newline-delimited JSON events
/// ([`crate::types::StreamEvent`]). Dropping the response (Stop, or a closed
/// tab) drops the server's stream, which cancels the generation; the server
/// saves what was generated either way.
#[server(input = Json, output = Streaming)]
pub async fn generate_reply(request: ReplyRequest) -> Result<ByteStream<AppError>, AppError> {
    use futures::StreamExt;
    let s = crate::services::services()?;
    let events = s.chat.start_reply(&s.caller, request).await?;
    Ok(ByteStream::new(events.map(|event| {
        Ok::<_, AppError>(event.to_line().into_bytes())
    })))
}

/// Streams the model's continuation of raw text (the Notebook tab), as
/// [`generate_reply`] streams a reply; dropping the response cancels it.
#[server(input = Json, output = Streaming)]
pub async fn generate_completion(
    request: CompletionRequest,
) -> Result<ByteStream<AppError>, AppError> {
    use futures::StreamExt;
    let s = crate::services::services()?;
    let events = s.chat.start_completion(&s.caller, request)?;
    Ok(ByteStream::new(events.map(|event| {
        Ok::<_, AppError>(event.to_line().into_bytes())
    })))
}

/// Ends the named generation at its next token.
#[server(input = Json)]
pub async fn stop_reply(request_id: String) -> Result<bool, AppError> {
    let s = crate::services::services()?;
    Ok(s.chat.stop_reply(&s.caller, &request_id))
}

#[server(input = Json)]
pub async fn load_model_status() -> Result<ModelStatus, AppError> {
    Ok(crate::services::services()?.chat.model_status())
}

#[server(input = Json)]
pub async fn load_model_template() -> Result<Option<String>, AppError> {
    Ok(crate::services::services()?.chat.model_template())
}

/// Reads a file the user attached (`data` is the file, base64): its text,
/// kept by the browser until the message is sent, and its token count.
#[server(input = Json)]
pub async fn read_attachment(name: String, data: String) -> Result<AttachmentPreview, AppError> {
    let bytes = super::decode_base64(&data)?;
    crate::services::services()?
        .chat
        .read_attachment(name, bytes)
        .await
}

/// The tools a chat may offer its model (built-ins and the MCP servers of
/// `mcp.json`), and the servers that could not be used.
#[server(input = Json)]
pub async fn load_tool_catalog() -> Result<ToolCatalog, AppError> {
    Ok(crate::services::services()?.chat.tool_catalog().await)
}
