//! One MCP server, through the official Rust SDK (`rmcp`): started as a
//! child process speaking MCP over stdio, or reached over Streamable HTTP;
//! asked for its tools at start and again after it says they changed, and
//! asked to run them.

use std::{
    collections::HashMap,
    path::Path,
    process::Stdio,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::http::{HeaderName, HeaderValue};
use rmcp::{
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, ContentBlock, Implementation,
    },
    service::{NotificationContext, RunningService},
    transport::{
        streamable_http_client::StreamableHttpClientTransportConfig, StreamableHttpClientTransport,
        TokioChildProcess,
    },
    ClientHandler, RoleClient, ServiceExt,
};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::{mcp_config::McpServer, ToolError};
use domain::ToolInfo;

/// How long a server may take to start and list its tools.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variables a server is not given: candlelight's own, which
/// hold its secrets (API key, passwords).
const HIDDEN_ENV_PREFIX: &str = "CANDLELIGHT_";

/// Listens for the server's notifications: a changed tool list is asked
/// for again before the next use.
struct Watcher {
    stale: Arc<AtomicBool>,
}

impl ClientHandler for Watcher {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("candlelight", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.stale.store(true, Ordering::Relaxed);
    }
}

pub struct McpClient {
    /// The server's name in `mcp.json`.
    name: String,
    service: RunningService<RoleClient, Watcher>,
    stale: Arc<AtomicBool>,
    tools: Mutex<Vec<ToolInfo>>,
}

impl McpClient {
    /// Starts server `name` and lists its tools. Relative paths in its
    /// command line are relative to the user data folder.
    pub async fn start(name: &str, server: &McpServer, workdir: &Path) -> Result<Self, ToolError> {
        let unavailable = |reason: String| ToolError::Unavailable {
            server: name.to_string(),
            reason,
        };
        let stale = Arc::new(AtomicBool::new(true));
        let watcher = Watcher {
            stale: stale.clone(),
        };
        let started = match server {
            McpServer::Stdio { command, args, env } => {
                let mut process = tokio::process::Command::new(command);
                process.args(args).current_dir(workdir).kill_on_drop(true);
                for (key, _) in std::env::vars_os() {
                    if key.to_string_lossy().starts_with(HIDDEN_ENV_PREFIX) {
                        process.env_remove(key);
                    }
                }
                process.envs(env);
                let (transport, _) = TokioChildProcess::builder(process)
                    .stderr(Stdio::inherit())
                    .spawn()
                    .map_err(|e| unavailable(format!("could not start `{command}`: {e}")))?;
                tokio::time::timeout(START_TIMEOUT, watcher.serve(transport)).await
            }
            McpServer::Http { url, headers } => {
                // The SDK's HTTP client takes TLS from the process's default
                // crypto provider: ring, as the rest of the server uses.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(http_headers(headers).map_err(unavailable)?);
                let transport = StreamableHttpClientTransport::from_config(config);
                tokio::time::timeout(START_TIMEOUT, watcher.serve(transport)).await
            }
        };
        let service = started
            .map_err(|_| unavailable(format!("did not start within {}s", START_TIMEOUT.as_secs())))?
            .map_err(|e| unavailable(format!("did not answer MCP's initialize: {e}")))?;
        let client = Self {
            name: name.to_string(),
            service,
            stale,
            tools: Mutex::new(Vec::new()),
        };
        tokio::time::timeout(START_TIMEOUT, client.tools())
            .await
            .map_err(|_| unavailable("did not list its tools in time".into()))??;
        Ok(client)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connection is still open (a stdio server that exited, or a
    /// closed HTTP session, ends it).
    pub fn is_alive(&self) -> bool {
        !self.service.is_transport_closed()
    }

    /// The server's tools, asked for again if it said they changed.
    pub async fn tools(&self) -> Result<Vec<ToolInfo>, ToolError> {
        let mut tools = self.tools.lock().await;
        // Marked fresh only once listed: a listing given up half-way (a
        // time limit) is asked for again next time.
        if self.stale.load(Ordering::Relaxed) {
            let listed =
                self.service
                    .list_all_tools()
                    .await
                    .map_err(|e| ToolError::Unavailable {
                        server: self.name.clone(),
                        reason: format!("tools/list failed: {e}"),
                    })?;
            self.stale.store(false, Ordering::Relaxed);
            *tools = listed
                .into_iter()
                .map(|tool| ToolInfo {
                    name: tool.name.to_string(),
                    description: tool
                        .description
                        .map(|d| d.to_string())
                        .or(tool.title)
                        .unwrap_or_default(),
                    source: self.name.clone(),
                    parameters: Value::Object((*tool.input_schema).clone()),
                })
                .collect();
        }
        Ok(tools.clone())
    }

    /// Runs `tool` with `arguments`; the text it returned.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<String, ToolError> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = Some(arguments);
        let result = self
            .service
            .call_tool(params)
            .await
            .map_err(|e| ToolError::Failed(format!("{} did not answer: {e}", self.name)))?;
        let text = result
            .content
            .iter()
            .map(content_text)
            .collect::<Vec<_>>()
            .join("\n");
        let text = match (text.is_empty(), &result.structured_content) {
            (true, Some(structured)) => structured.to_string(),
            _ => text,
        };
        if result.is_error == Some(true) {
            return Err(ToolError::Failed(text));
        }
        Ok(text)
    }
}

/// `mcp.json`'s `headers` as HTTP headers; a name or value HTTP cannot
/// carry is named.
fn http_headers(
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<HashMap<HeaderName, HeaderValue>, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("\"{name}\" is not an HTTP header name"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("the value of header \"{name}\" is not valid in HTTP"))?;
            Ok((name, value))
        })
        .collect()
}

/// A content block as the model reads it: text as it is, anything else
/// named (this engine reads no images or audio).
fn content_text(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(_) => "[an image, which this model cannot see]".into(),
        ContentBlock::Audio(_) => "[audio, which this model cannot hear]".into(),
        ContentBlock::Resource(resource) => serde_json::to_string(resource).unwrap_or_default(),
        ContentBlock::ResourceLink(link) => serde_json::to_string(link).unwrap_or_default(),
        _ => "[content of a kind this client does not read]".into(),
    }
}
