//! The tools a chat may offer its model: the built-ins, and those of the
//! MCP servers the owner lists in `user_data/mcp.json`. Servers are
//! started once (in the background at start-up, or at first use) and
//! shared by every chat; each chat chooses which tools it offers.

mod builtin;
mod calculator;
mod error;
mod mcp;
mod mcp_config;

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde_json::Value;
use tokio::sync::OnceCell;

pub use error::ToolError;
use mcp::McpClient;
pub use mcp_config::{McpConfig, McpServer};

use domain::{ToolCatalog, ToolInfo, ToolSourceProblem};

/// How long one call may run.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The most of a result the model reads (a tool may return a whole file).
pub const MAX_RESULT_BYTES: usize = 32 * 1024;

/// The file the owner lists MCP servers in, under the user data folder.
pub const MCP_FILE: &str = "mcp.json";

pub struct Toolbox {
    /// The user data folder: `mcp.json` is read here, and servers run here.
    root: PathBuf,
    servers: OnceCell<Servers>,
}

/// The started servers, and what went wrong with the others.
#[derive(Default)]
struct Servers {
    clients: Vec<Arc<McpClient>>,
    problems: Vec<ToolSourceProblem>,
}

impl Toolbox {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            servers: OnceCell::new(),
        }
    }

    /// Starts the MCP servers now rather than at first use.
    pub async fn start(&self) {
        self.servers().await;
    }

    async fn servers(&self) -> &Servers {
        self.servers
            .get_or_init(|| async {
                let config = match std::fs::read_to_string(self.root.join(MCP_FILE)) {
                    Ok(text) => mcp_config::parse(&text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => McpConfig::default(),
                    Err(e) => McpConfig {
                        servers: Vec::new(),
                        problems: vec![ToolSourceProblem {
                            source: MCP_FILE.into(),
                            message: format!("could not be read: {}", e.kind()),
                        }],
                    },
                };
                let started = futures::future::join_all(
                    config
                        .servers
                        .iter()
                        .map(|(name, server)| McpClient::start(name, server, &self.root)),
                )
                .await;
                let mut servers = Servers {
                    clients: Vec::new(),
                    problems: config.problems,
                };
                for (result, (name, _)) in started.into_iter().zip(&config.servers) {
                    match result {
                        Ok(client) => {
                            tracing::info!(server = %name, "MCP server started");
                            servers.clients.push(Arc::new(client));
                        }
                        Err(e) => {
                            tracing::warn!(server = %name, error = %e, "MCP server not used");
                            servers.problems.push(ToolSourceProblem {
                                source: name.clone(),
                                message: e.to_string(),
                            });
                        }
                    }
                }
                servers
            })
            .await
    }

    /// Every tool, and every server that could not be used. A name taken
    /// by an earlier source (the built-ins first, then `mcp.json`'s order)
    /// is not offered twice.
    pub async fn catalog(&self) -> ToolCatalog {
        let servers = self.servers().await;
        let mut catalog = ToolCatalog {
            tools: builtin::tools(),
            problems: servers.problems.clone(),
        };
        for client in &servers.clients {
            match client.tools().await {
                Ok(tools) => {
                    for tool in tools {
                        if let Some(taken) = catalog.tools.iter().find(|t| t.name == tool.name) {
                            catalog.problems.push(ToolSourceProblem {
                                source: client.name().to_string(),
                                message: format!(
                                    "its tool {} is not offered: {} has one of that name",
                                    tool.name, taken.source
                                ),
                            });
                        } else {
                            catalog.tools.push(tool);
                        }
                    }
                }
                Err(e) => catalog.problems.push(ToolSourceProblem {
                    source: client.name().to_string(),
                    message: e.to_string(),
                }),
            }
        }
        catalog
    }

    /// The tools of `names` that exist, in catalog order.
    pub async fn chosen(&self, names: &[String]) -> Vec<ToolInfo> {
        self.catalog()
            .await
            .tools
            .into_iter()
            .filter(|t| names.contains(&t.name))
            .collect()
    }

    /// Runs `name` with `arguments` (a JSON object's text); the result
    /// as the model reads it, cut to [`MAX_RESULT_BYTES`] with a note.
    pub async fn call(&self, name: &str, arguments: &str) -> Result<String, ToolError> {
        let arguments: Value = serde_json::from_str(arguments)
            .map_err(|e| ToolError::Arguments(format!("not JSON: {e}")))?;
        let Value::Object(object) = arguments else {
            return Err(ToolError::Arguments("not a JSON object".into()));
        };
        let run = async {
            if let Some(result) = builtin::call(name, &Value::Object(object.clone())) {
                return result;
            }
            for client in &self.servers().await.clients {
                if client.tools().await?.iter().any(|t| t.name == name) {
                    return client.call(name, object).await;
                }
            }
            Err(ToolError::Unknown(name.to_string()))
        };
        let text = tokio::time::timeout(CALL_TIMEOUT, run)
            .await
            .map_err(|_| ToolError::Timeout(CALL_TIMEOUT.as_secs()))??;
        Ok(bounded(text))
    }
}

/// `text`, or its first [`MAX_RESULT_BYTES`] and a note saying so.
fn bounded(mut text: String) -> String {
    if text.len() <= MAX_RESULT_BYTES {
        return text;
    }
    let total = text.len();
    let mut cut = MAX_RESULT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!(
        "\n[the result was {total} bytes; only the first {cut} are shown]"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn built_ins_are_listed_and_run_without_mcp_json() {
        let folder = tempfile::tempdir().unwrap();
        let toolbox = Toolbox::new(folder.path().to_path_buf());
        let catalog = toolbox.catalog().await;
        assert!(catalog.problems.is_empty());
        let names: Vec<&str> = catalog.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["get_current_time", "calculator"]);
        assert_eq!(
            toolbox
                .call("calculator", r#"{"expression": "2+2*2"}"#)
                .await
                .unwrap(),
            "6"
        );
        assert!(matches!(
            toolbox.call("nope", "{}").await,
            Err(ToolError::Unknown(_))
        ));
        assert!(matches!(
            toolbox.call("calculator", "[1]").await,
            Err(ToolError::Arguments(_))
        ));
    }

    #[tokio::test]
    async fn a_server_that_cannot_start_is_a_problem_not_a_failure() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(
            folder.path().join(MCP_FILE),
            r#"{"mcpServers": {"ghost": {"command": "/nonexistent/mcp-server"}}}"#,
        )
        .unwrap();
        let catalog = Toolbox::new(folder.path().to_path_buf()).catalog().await;
        assert_eq!(catalog.tools.len(), 2);
        assert_eq!(catalog.problems[0].source, "ghost");
        assert!(catalog.problems[0].message.contains("could not start"));
    }

    #[test]
    fn long_results_are_cut_with_a_note() {
        let text = "é".repeat(MAX_RESULT_BYTES);
        let cut = bounded(text);
        assert!(cut.len() < MAX_RESULT_BYTES + 100);
        assert!(cut.ends_with(&format!("only the first {} are shown]", MAX_RESULT_BYTES)));
    }
}
