//! The tools a chat may offer its model: the built-ins, and those of the
//! MCP servers the owner lists in `user_data/mcp.json`. Servers are
//! started once (in the background at start-up, or at first use) and
//! shared by every chat; each chat chooses which tools it offers.

mod builtin;
mod calculator;
mod error;
mod mcp;
mod mcp_config;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::FutureExt;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use tokio::sync::OnceCell;

pub use error::ToolError;
use mcp::McpClient;
pub use mcp_config::{McpConfig, McpServer};

use domain::{ToolCatalog, ToolInfo, ToolSourceProblem};

/// How long a server that failed is left before the Tools panel tries it
/// again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// How long a running server may take to list its tools again (after it
/// said they changed): a reply waits for the list.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

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

/// What `mcp.json` asked for: each server in the file's order, and the
/// entries that could not be read.
#[derive(Default)]
struct Servers {
    entries: Vec<Entry>,
    problems: Vec<ToolSourceProblem>,
}

struct Entry {
    name: String,
    server: McpServer,
    state: Mutex<EntryState>,
}

#[derive(Clone)]
enum EntryState {
    Running(Arc<McpClient>),
    /// Could not start (or answer): why, and when it was last tried.
    Failed {
        message: String,
        at: Instant,
    },
}

impl Entry {
    async fn connect(&self, root: &std::path::Path) {
        // A panic inside the SDK is this server's problem, not the chat's.
        let started = AssertUnwindSafe(McpClient::start(&self.name, &self.server, root))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                Err(ToolError::Unavailable {
                    server: self.name.clone(),
                    reason: "the MCP client failed while connecting".into(),
                })
            });
        let state = match started {
            Ok(client) => {
                tracing::info!(server = %self.name, "MCP server started");
                EntryState::Running(Arc::new(client))
            }
            Err(e) => {
                tracing::warn!(server = %self.name, error = %e, "MCP server not used");
                EntryState::Failed {
                    message: e.to_string(),
                    at: Instant::now(),
                }
            }
        };
        *lock(&self.state) = state;
    }

    /// Where the server stands; one whose connection ended becomes a
    /// failed one (listed with the reason, tried again like the others).
    fn state(&self) -> EntryState {
        let mut state = lock(&self.state);
        if let EntryState::Running(client) = &*state {
            if !client.is_alive() {
                tracing::warn!(server = %self.name, "MCP server stopped answering");
                *state = EntryState::Failed {
                    message: "stopped answering (its connection ended)".into(),
                    at: Instant::now(),
                };
            }
        }
        state.clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
                let servers = Servers {
                    entries: config
                        .servers
                        .into_iter()
                        .map(|(name, server)| Entry {
                            name,
                            server,
                            state: Mutex::new(EntryState::Failed {
                                message: "not started".into(),
                                at: Instant::now(),
                            }),
                        })
                        .collect(),
                    problems: config.problems,
                };
                futures::future::join_all(servers.entries.iter().map(|e| e.connect(&self.root)))
                    .await;
                servers
            })
            .await
    }

    /// The servers that run now.
    async fn clients(&self) -> Vec<Arc<McpClient>> {
        self.servers()
            .await
            .entries
            .iter()
            .filter_map(|e| match e.state() {
                EntryState::Running(client) => Some(client),
                EntryState::Failed { .. } => None,
            })
            .collect()
    }

    /// Tries again the servers that failed more than [`RETRY_AFTER`] ago
    /// (one that was down when candlelight started, a crashed one): the
    /// Tools panel asks for this, a reply never waits for it.
    pub async fn retry_failed(&self) {
        let servers = self.servers().await;
        let due = servers.entries.iter().filter(
            |e| matches!(e.state(), EntryState::Failed { at, .. } if at.elapsed() >= RETRY_AFTER),
        );
        futures::future::join_all(due.map(|e| e.connect(&self.root))).await;
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
        for entry in &servers.entries {
            let client = match entry.state() {
                EntryState::Running(client) => client,
                EntryState::Failed { message, .. } => {
                    catalog.problems.push(ToolSourceProblem {
                        source: entry.name.clone(),
                        message,
                    });
                    continue;
                }
            };
            let listed = tokio::time::timeout(LIST_TIMEOUT, client.tools())
                .await
                .unwrap_or_else(|_| {
                    Err(ToolError::Unavailable {
                        server: client.name().to_string(),
                        reason: format!(
                            "did not list its tools within {}s",
                            LIST_TIMEOUT.as_secs()
                        ),
                    })
                });
            match listed {
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
            for client in self.clients().await {
                // A server that cannot list its tools now is passed over.
                let listed = tokio::time::timeout(LIST_TIMEOUT, client.tools()).await;
                if let Ok(Ok(tools)) = listed {
                    if tools.iter().any(|t| t.name == name) {
                        return client.call(name, object).await;
                    }
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

    /// The tests' MCP server (`end2end/mcp/weather_server.py`, on the
    /// official Python SDK) over stdio and over Streamable HTTP: tools are
    /// listed from both, called with arguments, and a tool's error comes
    /// back as the call's failure.
    #[tokio::test]
    async fn mcp_servers_over_stdio_and_http_list_and_run_their_tools() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = repo.join(".venv/bin/python");
        let script = repo.join("end2end/mcp/weather_server.py");
        let has_sdk = std::process::Command::new(&python)
            .args(["-c", "import mcp"])
            .status()
            .is_ok_and(|s| s.success());
        if !has_sdk {
            skip_loudly(
                "mcp_servers_over_stdio_and_http_list_and_run_their_tools",
                "no .venv with the Python mcp SDK (make test installs it)",
            );
            return;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut http = tokio::process::Command::new(&python)
            .arg(&script)
            .args(["--http", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let folder = tempfile::tempdir().unwrap();
        let config = serde_json::json!({"mcpServers": {
            "weather": {"command": python, "args": [script]},
            "shouting": {"url": format!("http://127.0.0.1:{port}/mcp")},
            "down": {"url": "http://127.0.0.1:9/mcp"},
        }});
        std::fs::write(folder.path().join(MCP_FILE), config.to_string()).unwrap();
        let toolbox = Toolbox::new(folder.path().to_path_buf());

        let catalog = toolbox.catalog().await;
        let source = |name: &str| {
            catalog
                .tools
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.source.clone())
        };
        assert_eq!(source("get_weather").as_deref(), Some("weather"));
        assert_eq!(source("shout").as_deref(), Some("shouting"));
        assert_eq!(catalog.problems.len(), 1, "{:?}", catalog.problems);
        assert_eq!(catalog.problems[0].source, "down");

        let weather = toolbox.call("get_weather", r#"{"city": "Lima"}"#).await;
        assert!(weather.unwrap().contains("sunny in Lima"));
        let shout = toolbox.call("shout", r#"{"text": "over http"}"#).await;
        assert_eq!(shout.unwrap(), "OVER HTTP");
        let failed = toolbox
            .call("fail_always", r#"{"reason": "testing"}"#)
            .await;
        assert!(
            matches!(&failed, Err(ToolError::Failed(m)) if m.contains("this tool always fails: testing")),
            "{failed:?}"
        );
        // A server that exits is listed as a problem, not offered.
        assert!(toolbox.call("crash", "{}").await.is_err());
        let mut listed = false;
        for _ in 0..50 {
            let catalog = toolbox.catalog().await;
            if catalog.problems.iter().any(|p| p.source == "weather") {
                assert!(catalog.tools.iter().all(|t| t.name != "get_weather"));
                listed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(listed, "the exited server is still offered");
        let _ = http.kill().await;
    }

    /// Says loudly that a test did not run, and lists it for `make test`.
    fn skip_loudly(test: &str, reason: &str) {
        use std::io::Write;
        eprintln!("SKIPPED {test}: {reason}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("skipped-tests.txt"))
        {
            let _ = writeln!(f, "{test}: {reason}");
        }
    }

    #[test]
    fn long_results_are_cut_with_a_note() {
        let text = "é".repeat(MAX_RESULT_BYTES);
        let cut = bounded(text);
        assert!(cut.len() < MAX_RESULT_BYTES + 100);
        assert!(cut.ends_with(&format!("only the first {} are shown]", MAX_RESULT_BYTES)));
    }
}
