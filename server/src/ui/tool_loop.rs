//! The Chat tab's tool loop, server side. A reply in a chat with tools on
//! is read by the model family's call parser as it streams: text goes on
//! to the browser, calls are kept and saved with the reply (waiting for
//! Approve or Reject, or approved at once for an "always allow" tool).
//! `RunTools` then runs the approved calls, saves their results, and the
//! reply goes on with them in the prompt, until it answers without a
//! call or reaches [`MAX_TOOL_ROUNDS`].

use std::time::Duration;

use app::types::{AppError, LoggedMessage, Role, StreamEvent, ToolInfo, ToolState, ToolUse};
use domain::{ChatTools, Mode, MAX_TOOL_ROUNDS};
use engine::Cancel;
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;

use crate::{
    chat_tools::Toolbox,
    store::{Chats, GenerationLock},
    tool_calls::{ParsedCall, Piece, ToolCallParser, ToolFormat},
};

/// What the browser is told when Stop ends a call.
const STOPPED_RESULT: &str = "The user stopped this tool call before it finished.";

/// The tools a new reply is offered: the chat's switched-on tools that
/// exist, in instruct mode (where the model's template teaches the call
/// format), until the reply has made [`MAX_TOOL_ROUNDS`] rounds of calls.
pub async fn offered(
    toolbox: &Toolbox,
    mode: Mode,
    tools: &ChatTools,
    extending: Option<&LoggedMessage>,
) -> Vec<ToolInfo> {
    let rounds = extending.map_or(0, LoggedMessage::tool_rounds);
    if mode != Mode::Instruct || tools.enabled.is_empty() || rounds >= MAX_TOOL_ROUNDS {
        return Vec::new();
    }
    toolbox.chosen(&tools.enabled).await
}

/// Reads calls out of a streaming reply.
pub struct Capture {
    parser: Box<dyn ToolCallParser>,
    offered: Vec<ToolInfo>,
    always_allow: Vec<String>,
    /// Calls already answered in the reply being extended: the same call
    /// again is not run again (small models repeat a call after its
    /// result), but kept as the text it was.
    answered: Vec<ToolUse>,
    /// Accepted calls and where in the new text each was made.
    calls: Vec<(usize, ParsedCall)>,
}

impl Capture {
    pub fn new(
        format: ToolFormat,
        offered: &[ToolInfo],
        chat: &ChatTools,
        extending: Option<&LoggedMessage>,
    ) -> Self {
        Self {
            parser: format.lenient_parser(),
            offered: offered.to_vec(),
            always_allow: chat.always_allow.clone(),
            answered: extending
                .map(|m| m.shown_tool_uses().cloned().collect())
                .unwrap_or_default(),
            calls: Vec::new(),
        }
    }

    /// Takes the next piece of reply text, `shown` bytes of new text
    /// being out already; returns the text to show now.
    pub fn push(&mut self, text: &str, shown: usize) -> String {
        let pieces = self.parser.push(text);
        self.settle(pieces, shown)
    }

    /// The reply ended: the text held back.
    pub fn finish(&mut self, shown: usize) -> String {
        let pieces = self.parser.finish();
        self.settle(pieces, shown)
    }

    fn settle(&mut self, pieces: Vec<Piece>, shown: usize) -> String {
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(&text),
                Piece::Call(call) if self.accepts(&call) => {
                    self.calls.push((shown + out.len(), call));
                }
                // Not a tool this chat offers, or a repeat: the text the
                // model wrote, as it wrote it.
                Piece::Call(call) => out.push_str(&call_text(&call)),
            }
        }
        out
    }

    /// A call of an offered tool, with arguments its schema allows, that
    /// the reply has not made and had answered already.
    fn accepts(&self, call: &ParsedCall) -> bool {
        self.offered
            .iter()
            .any(|t| t.name == call.name && fits_schema(&call.arguments, &t.parameters))
            && !self
                .answered
                .iter()
                .any(|u| u.same_call(&call.name, &call.arguments))
    }

    /// The reply made calls the chat accepts.
    pub fn has_calls(&self) -> bool {
        !self.calls.is_empty()
    }

    /// The calls, ready to save into `reply` whose new text started at
    /// byte `base` of its shown version.
    pub fn into_uses(self, reply: &LoggedMessage, base: usize) -> Vec<ToolUse> {
        let round = reply.tool_rounds() + 1;
        self.calls
            .into_iter()
            .map(|(offset, call)| {
                let allowed = self.always_allow.contains(&call.name);
                ToolUse {
                    id: new_call_id(),
                    version: reply.current,
                    at: base + offset,
                    state: if allowed {
                        ToolState::Approved
                    } else {
                        ToolState::Pending
                    },
                    name: call.name,
                    arguments: call.arguments,
                    result: String::new(),
                    delivered: false,
                    round,
                }
            })
            .collect()
    }
}

/// Whether `arguments` (a JSON object's text) has every property the
/// schema requires and none it does not name: a model that copies the
/// schema itself, or invents arguments, made no call.
fn fits_schema(arguments: &str, schema: &serde_json::Value) -> bool {
    let Ok(serde_json::Value::Object(given)) = serde_json::from_str(arguments) else {
        return false;
    };
    let named = schema.get("properties").and_then(|p| p.as_object());
    let known = |key: &String| named.is_none_or(|named| named.contains_key(key));
    let required = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| {
            r.iter()
                .filter_map(|k| k.as_str())
                .all(|k| given.contains_key(k))
        })
        .unwrap_or(true);
    required && given.keys().all(known)
}

/// A call written back as the Hermes-style object it stood for.
fn call_text(call: &ParsedCall) -> String {
    let arguments: serde_json::Value =
        serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
    json!({"name": call.name, "arguments": arguments}).to_string()
}

fn new_call_id() -> String {
    format!("call_{:016x}", rand::random::<u64>())
}

/// Runs the approved calls of the chat's last reply, saving each result
/// as it comes, and tells the browser which is running. Stop (`cancel`)
/// ends the running call and leaves the rest unrun. Returns the reply's
/// calls as they then stand.
pub async fn run_approved(
    toolbox: &Toolbox,
    chats: &Chats,
    generation: &GenerationLock,
    cancel: &Cancel,
    tx: &UnboundedSender<StreamEvent>,
) -> Result<Vec<ToolUse>, AppError> {
    loop {
        let log = chats.load(generation.key())?;
        let reply = log
            .messages
            .last()
            .filter(|m| m.role == Role::Assistant)
            .ok_or_else(|| {
                AppError::InvalidParameter("there is no reply with tool calls".into())
            })?;
        let Some(next) = reply
            .shown_tool_uses()
            .find(|u| u.state == ToolState::Approved)
            .cloned()
        else {
            return Ok(reply.shown_tool_uses().cloned().collect());
        };
        let (state, result) = if cancel.is_set() {
            (ToolState::Failed, STOPPED_RESULT.to_string())
        } else if !log.tools.is_enabled(&next.name) {
            // Only tools switched on in this chat run (an imported file
            // may carry calls marked approved).
            (
                ToolState::Failed,
                format!("Error: {} is not switched on in this chat", next.name),
            )
        } else {
            let _ = tx.send(StreamEvent::RunningTool {
                name: next.name.clone(),
            });
            tokio::select! {
                result = toolbox.call(&next.name, &next.arguments) => match result {
                    Ok(text) => (ToolState::Done, text),
                    Err(e) => (ToolState::Failed, format!("Error: {e}")),
                },
                () = stopped(cancel) => (ToolState::Failed, STOPPED_RESULT.to_string()),
            }
        };
        tracing::info!(tool = %next.name, ?state, "tool call ran");
        chats.update_generating(generation, |messages| {
            let call = messages
                .last_mut()
                .and_then(|m| m.tool_uses.iter_mut().find(|u| u.id == next.id));
            if let Some(call) = call {
                call.state = state;
                call.result = result;
            }
            Ok(())
        })?;
    }
}

/// Resolves once Stop is pressed.
async fn stopped(cancel: &Cancel) {
    while !cancel.is_set() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Marks the last reply's settled calls as read by the model (its reply
/// is about to go on after them).
pub fn mark_delivered(messages: &mut [LoggedMessage]) {
    if let Some(reply) = messages.last_mut() {
        let version = reply.current;
        reply
            .tool_uses
            .iter_mut()
            .filter(|u| u.version == version && u.state.is_settled())
            .for_each(|u| u.delivered = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str) -> ToolInfo {
        ToolInfo {
            name: name.into(),
            description: String::new(),
            source: "built-in".into(),
            parameters: json!({
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"]
            }),
        }
    }

    #[test]
    fn arguments_must_fit_the_schema() {
        let schema = tool("calculator").parameters;
        assert!(fits_schema(r#"{"expression": "1"}"#, &schema));
        assert!(!fits_schema(r#"{}"#, &schema), "required");
        assert!(
            !fits_schema(r#"{"expression": "1", "x": 2}"#, &schema),
            "unknown"
        );
        assert!(!fits_schema(
            r#"{"properties": {}, "type": "object"}"#,
            &schema
        ));
        assert!(!fits_schema("[]", &schema));
        assert!(fits_schema(
            r#"{"anything": 1}"#,
            &json!({"type": "object"})
        ));
    }

    fn chat(always: &[&str]) -> ChatTools {
        ChatTools {
            enabled: vec!["calculator".into()],
            always_allow: always.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn feed(capture: &mut Capture, chunks: &[&str]) -> String {
        let mut shown = String::new();
        for chunk in chunks {
            let out = capture.push(chunk, shown.len());
            shown.push_str(&out);
        }
        let rest = capture.finish(shown.len());
        shown.push_str(&rest);
        shown
    }

    #[test]
    fn tagged_and_bare_calls_are_kept_where_they_were_made() {
        let offered = [tool("calculator")];
        let mut capture = Capture::new(ToolFormat::Hermes, &offered, &chat(&[]), None);
        let shown = feed(
            &mut capture,
            &[
                "Let me compute.",
                "<tool_call>\n{\"name\": \"calculator\", ",
                "\"arguments\": {\"expression\": \"6*7\"}}\n</tool_call>",
            ],
        );
        assert_eq!(shown, "Let me compute.");
        let reply = LoggedMessage::new(Role::Assistant, "Earlier. ");
        let uses = capture.into_uses(&reply, 9);
        assert_eq!(uses.len(), 1);
        assert_eq!((uses[0].at, uses[0].state), (9 + 15, ToolState::Pending));
        assert_eq!(uses[0].arguments, r#"{"expression":"6*7"}"#);

        // Qwen 2.5 Coder 0.5B's way: the whole reply one bare object.
        let mut capture = Capture::new(ToolFormat::Hermes, &offered, &chat(&["calculator"]), None);
        let shown = feed(
            &mut capture,
            &["{\"name\": \"calculator\", \"arguments\": {\"expression\": \"1+1\"}}"],
        );
        assert_eq!(shown, "");
        let uses = capture.into_uses(&reply, 0);
        assert_eq!(uses[0].state, ToolState::Approved, "always allowed");
    }

    #[test]
    fn unknown_tools_and_repeated_calls_stay_text() {
        let offered = [tool("calculator")];
        let mut capture = Capture::new(ToolFormat::Hermes, &offered, &chat(&[]), None);
        let shown = feed(
            &mut capture,
            &["{\"name\": \"rm_rf\", \"arguments\": {\"path\": \"/\"}}"],
        );
        assert_eq!(shown, r#"{"name":"rm_rf","arguments":{"path":"/"}}"#);
        assert!(capture
            .into_uses(&LoggedMessage::new(Role::Assistant, ""), 0)
            .is_empty());

        let mut reply = LoggedMessage::new(Role::Assistant, "");
        reply.tool_uses.push(ToolUse {
            id: "call_1".into(),
            version: 0,
            at: 0,
            name: "calculator".into(),
            arguments: r#"{"expression": "1+1"}"#.into(),
            state: ToolState::Done,
            result: "2".into(),
            delivered: true,
            round: 1,
        });
        let mut capture = Capture::new(ToolFormat::Hermes, &offered, &chat(&[]), Some(&reply));
        let shown = feed(
            &mut capture,
            &["{\"name\": \"calculator\", \"arguments\": {\"expression\":\"1+1\"}}"],
        );
        assert!(shown.contains("1+1"), "{shown}");
        assert!(capture.into_uses(&reply, 0).is_empty());

        // A new call made right where the last round was (no text between,
        // as bare-object models answer) is the next round all the same.
        let mut capture = Capture::new(ToolFormat::Hermes, &offered, &chat(&[]), Some(&reply));
        feed(
            &mut capture,
            &["{\"name\": \"calculator\", \"arguments\": {\"expression\":\"2+2\"}}"],
        );
        let uses = capture.into_uses(&reply, 0);
        assert_eq!((uses[0].at, uses[0].round), (0, 2));
        reply.tool_uses.extend(uses);
        assert_eq!(reply.tool_rounds(), 2);
    }
}
