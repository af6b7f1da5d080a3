//! `user_data/mcp.json`, in the format Claude Desktop, text-generation-webui
//! and the llama.cpp web UI read:
//! `{"mcpServers": {"name": {"command": …, "args": […], "env": {…}}}}` for
//! a server started as a child process (stdio), `{"url": …, "headers":
//! {…}}` for one reached over Streamable HTTP. Only the server's owner
//! writes this file: no browser can add a command to run.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use domain::ToolSourceProblem;

/// Most servers one file may name.
const MAX_SERVERS: usize = 32;

/// How to reach one MCP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum McpServer {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// What the file asks for: the servers that parse, and a problem for
/// each that does not (shown in the Tools panel).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct McpConfig {
    pub servers: Vec<(String, McpServer)>,
    pub problems: Vec<ToolSourceProblem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// `stdio`, `http`, `streamable-http` or `streamableHttp` (optional;
    /// the other keys already say which).
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    disabled: bool,
    /// Tool names some clients keep here; not used.
    #[serde(default, rename = "autoApprove")]
    _auto_approve: Option<Value>,
}

/// Parses the file's text. A file that is not JSON, or has no
/// `mcpServers` object, is one problem; a bad entry is a problem of its
/// own and the others are still used.
pub fn parse(text: &str) -> McpConfig {
    let mut config = McpConfig::default();
    let file_problem = |message: String| McpConfig {
        servers: Vec::new(),
        problems: vec![ToolSourceProblem {
            source: "mcp.json".into(),
            message,
        }],
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return file_problem(format!("not valid JSON: {e}")),
    };
    let Some(servers) = value.get("mcpServers").and_then(Value::as_object) else {
        return file_problem("has no \"mcpServers\" object".into());
    };
    if servers.len() > MAX_SERVERS {
        return file_problem(format!("names more than {MAX_SERVERS} servers"));
    }
    for (name, entry) in servers {
        match server(entry.clone()) {
            Ok(Some(server)) => config.servers.push((name.clone(), server)),
            Ok(None) => {}
            Err(message) => config.problems.push(ToolSourceProblem {
                source: name.clone(),
                message,
            }),
        }
    }
    config
}

/// One entry; `Ok(None)` when it is disabled.
fn server(value: Value) -> Result<Option<McpServer>, String> {
    let entry: Entry = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if entry.disabled {
        return Ok(None);
    }
    let kind = entry.kind.as_deref().map(str::to_ascii_lowercase);
    match (entry.command, entry.url, kind.as_deref()) {
        (Some(_), Some(_), _) => Err("give either \"command\" or \"url\", not both".into()),
        (Some(command), None, None | Some("stdio")) if !command.trim().is_empty() => {
            Ok(Some(McpServer::Stdio {
                command,
                args: entry.args,
                env: entry.env,
            }))
        }
        (None, Some(url), None | Some("http" | "streamable-http" | "streamablehttp")) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err("\"url\" must start with http:// or https://".into());
            }
            Ok(Some(McpServer::Http {
                url,
                headers: entry.headers,
            }))
        }
        (_, _, Some("sse")) => Err(
            "the old SSE transport is not supported; use the server's Streamable HTTP URL".into(),
        ),
        (None, None, _) => Err("needs \"command\" (stdio) or \"url\" (Streamable HTTP)".into()),
        (_, _, Some(kind @ ("stdio" | "http" | "streamable-http" | "streamablehttp"))) => {
            Err(format!("\"type\": \"{kind}\" does not fit its other keys"))
        }
        (_, _, Some(kind)) => Err(format!(
            "unknown transport \"{kind}\" (stdio, or streamable-http with a \"url\")"
        )),
        _ => Err("\"command\" is empty".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_desktop_and_http_entries_parse() {
        let config = parse(
            r#"{"mcpServers": {
                "files": {"command": "npx", "args": ["-y", "server-filesystem", "/tmp"],
                          "env": {"DEBUG": "1"}},
                "remote": {"type": "streamable-http", "url": "https://example.org/mcp",
                           "headers": {"Authorization": "Bearer x"}},
                "off": {"command": "x", "disabled": true}
            }}"#,
        );
        assert!(config.problems.is_empty(), "{:?}", config.problems);
        assert_eq!(config.servers.len(), 2);
        assert_eq!(
            config.servers[0],
            (
                "files".to_string(),
                McpServer::Stdio {
                    command: "npx".into(),
                    args: vec!["-y".into(), "server-filesystem".into(), "/tmp".into()],
                    env: BTreeMap::from([("DEBUG".into(), "1".into())]),
                }
            )
        );
        assert!(
            matches!(&config.servers[1].1, McpServer::Http { url, .. } if url.ends_with("/mcp"))
        );
    }

    #[test]
    fn bad_entries_are_problems_and_the_rest_still_load() {
        let config = parse(
            r#"{"mcpServers": {
                "both": {"command": "a", "url": "http://x"},
                "neither": {"args": []},
                "typo": {"comand": "a"},
                "ftp": {"url": "ftp://x"},
                "old": {"type": "sse", "url": "http://x/sse"},
                "ws": {"type": "websocket", "url": "ws://x"},
                "good": {"command": "python3", "args": ["server.py"]}
            }}"#,
        );
        assert_eq!(config.servers.len(), 1);
        let problems: Vec<&str> = config.problems.iter().map(|p| p.source.as_str()).collect();
        assert_eq!(problems, ["both", "neither", "typo", "ftp", "old", "ws"]);
        assert!(config.problems[2].message.contains("comand"));
        assert!(config.problems[5]
            .message
            .contains("unknown transport \"websocket\""));
    }

    #[test]
    fn a_broken_file_is_one_problem() {
        assert!(parse("{").problems[0].message.contains("not valid JSON"));
        assert!(parse("{}").problems[0].message.contains("mcpServers"));
    }
}
