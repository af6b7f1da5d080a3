//! Tools a reply may call from the chat: what the Tools panel lists, the
//! calls a reply made (kept with the reply, so reload and regenerate see
//! them), and how a reply with calls reads to the model again (the call as
//! the assistant's `tool_calls`, the result as a `role: tool` message, the
//! way chat templates expect).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ChatMessage, FunctionCall, LoggedMessage, Role, ToolCall};

/// Rounds of calls one reply may make; the round after the last is
/// written without tools, so a model that keeps calling must answer.
pub const MAX_TOOL_ROUNDS: usize = 5;

/// What the model reads when the user rejects a call.
pub const REJECTED_RESULT: &str = "The user rejected this tool call.";

/// A tool the chat can offer the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    /// Where it comes from: `built-in`, or the MCP server's name in
    /// `mcp.json`.
    pub source: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

impl ToolInfo {
    /// The OpenAI function definition chat templates render.
    pub fn definition(&self) -> Value {
        serde_json::json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
    }
}

/// An MCP server from `mcp.json` that could not be used, for the panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSourceProblem {
    pub source: String,
    pub message: String,
}

/// Everything the Tools panel shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCatalog {
    pub tools: Vec<ToolInfo>,
    pub problems: Vec<ToolSourceProblem>,
}

/// A chat's tool switches (the chat file keeps them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTools {
    /// Tools offered to the model in this chat.
    #[serde(default)]
    pub enabled: Vec<String>,
    /// Tools that run without asking (the "always allow" switch).
    #[serde(default)]
    pub always_allow: Vec<String>,
}

impl ChatTools {
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.iter().any(|n| n == name)
    }

    pub fn is_always_allowed(&self, name: &str) -> bool {
        self.always_allow.iter().any(|n| n == name)
    }

    /// Turns `name` on or off in `list`, keeping it sorted and unique.
    pub fn set(list: &mut Vec<String>, name: &str, on: bool) {
        list.retain(|n| n != name);
        if on {
            list.push(name.to_string());
            list.sort();
        }
    }
}

/// Where a call stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolState {
    /// Waits for the user's Approve or Reject.
    Pending,
    /// Approved (or always allowed), not run yet.
    Approved,
    /// The user said no; the model reads [`REJECTED_RESULT`].
    Rejected,
    /// Ran; `result` is what it returned.
    Done,
    /// Could not run or failed; `result` says why.
    Failed,
}

impl ToolState {
    /// The call has a result the model can read.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            ToolState::Rejected | ToolState::Done | ToolState::Failed
        )
    }
}

/// One call a reply made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolUse {
    /// `call_…`, unique in the chat (the template's `tool_call_id`).
    pub id: String,
    /// The reply version that made it.
    pub version: usize,
    /// Where in that version's text the call was made (bytes): the text
    /// before it was written before the call, the text after it after
    /// the result.
    pub at: usize,
    pub name: String,
    /// A JSON object, as the model wrote it.
    pub arguments: String,
    pub state: ToolState,
    /// The tool's answer, or why there is none.
    #[serde(default)]
    pub result: String,
    /// The reply went on after this call, having read its result.
    #[serde(default)]
    pub delivered: bool,
    /// Which round of the reply's calls this is (1 for the first).
    #[serde(default)]
    pub round: usize,
}

impl ToolUse {
    /// What the model reads as this call's `role: tool` message.
    pub fn prompt_result(&self) -> &str {
        match self.state {
            ToolState::Rejected => REJECTED_RESULT,
            ToolState::Pending | ToolState::Approved => "",
            ToolState::Done | ToolState::Failed => &self.result,
        }
    }

    /// Same tool, same arguments (JSON compared as values).
    pub fn same_call(&self, name: &str, arguments: &str) -> bool {
        let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
        self.name == name && parse(&self.arguments) == parse(arguments)
    }
}

impl LoggedMessage {
    /// The calls the shown version made, in order.
    pub fn shown_tool_uses(&self) -> impl Iterator<Item = &ToolUse> {
        self.tool_uses
            .iter()
            .filter(move |u| u.version == self.current)
    }

    /// A call of the shown version waits for the user's Approve or Reject.
    pub fn tool_call_pending(&self) -> bool {
        self.shown_tool_uses()
            .any(|u| u.state == ToolState::Pending)
    }

    /// Every call of the shown version is decided, and the reply has not
    /// gone on after some of them: the next step is to run the approved
    /// ones and continue ([`super::ChatAction::RunTools`]).
    pub fn tool_calls_ready(&self) -> bool {
        !self.tool_call_pending() && self.shown_tool_uses().any(|u| !u.delivered)
    }

    /// Rounds of calls the shown version made. (Counted by round, not by
    /// place: a model that answers a result with another bare call makes
    /// its next round where the last one was.)
    pub fn tool_rounds(&self) -> usize {
        self.shown_tool_uses().map(|u| u.round).max().unwrap_or(0)
    }

    /// The shown text cut where its calls were made (see [`split_at_calls`]).
    pub fn tool_segments(&self) -> Vec<(&str, Vec<&ToolUse>)> {
        split_at_calls(self.text(), self.shown_tool_uses())
    }

    /// The message as the model reads it: with calls, the assistant's
    /// text before each round with that round's `tool_calls`, one
    /// `role: tool` message per settled call, and the text after.
    pub fn prompt_messages(&self) -> Vec<ChatMessage> {
        if self.role != Role::Assistant || self.shown_tool_uses().next().is_none() {
            return vec![ChatMessage::new(self.role, self.prompt_text())];
        }
        let mut out = Vec::new();
        for (text, calls) in self.tool_segments() {
            let settled: Vec<&ToolUse> =
                calls.into_iter().filter(|c| c.state.is_settled()).collect();
            if settled.is_empty() {
                if !text.is_empty() {
                    out.push(ChatMessage::new(Role::Assistant, text));
                }
                continue;
            }
            let mut turn = ChatMessage::new(Role::Assistant, text);
            turn.tool_calls = settled.iter().map(|c| template_call(c)).collect();
            out.push(turn);
            for call in settled {
                let mut result = ChatMessage::new(Role::Tool, call.prompt_result());
                result.tool_call_id = Some(call.id.clone());
                out.push(result);
            }
        }
        out
    }
}

/// `text` cut where `calls` (in order) were made: each piece, and the
/// calls made after it (the last piece has none). Places past the text
/// or inside a character are clamped.
pub fn split_at_calls<'a>(
    text: &'a str,
    calls: impl Iterator<Item = &'a ToolUse>,
) -> Vec<(&'a str, Vec<&'a ToolUse>)> {
    let mut out: Vec<(&str, Vec<&ToolUse>)> = Vec::new();
    let mut from = 0;
    for call in calls {
        let at = char_floor(text, call.at.clamp(from, text.len()));
        match out.last_mut() {
            Some((_, calls)) if at == from && !calls.is_empty() => calls.push(call),
            _ => out.push((&text[from..at], vec![call])),
        }
        from = at;
    }
    out.push((&text[from..], Vec::new()));
    out
}

/// A call as templates read it (arguments as a JSON object).
fn template_call(call: &ToolUse) -> ToolCall {
    ToolCall {
        id: call.id.clone(),
        kind: "function".into(),
        function: FunctionCall {
            name: call.name.clone(),
            arguments: serde_json::from_str(&call.arguments)
                .unwrap_or_else(|_| Value::Object(Default::default())),
        },
    }
}

/// The largest character boundary at or before `at`.
fn char_floor(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, at: usize, state: ToolState, result: &str) -> ToolUse {
        ToolUse {
            id: id.into(),
            version: 0,
            at,
            name: "calculator".into(),
            arguments: r#"{"expression": "6*7"}"#.into(),
            state,
            result: result.into(),
            delivered: false,
            round: 1,
        }
    }

    #[test]
    fn a_reply_with_calls_reads_as_turns_and_results() {
        let mut reply = LoggedMessage::new(Role::Assistant, "Let me work it out.The answer is 42.");
        reply.tool_uses = vec![
            call("call_1", 19, ToolState::Done, "42"),
            call("call_2", 19, ToolState::Rejected, ""),
        ];
        let messages = reply.prompt_messages();
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::Assistant, Role::Tool, Role::Tool, Role::Assistant]
        );
        assert_eq!(messages[0].content, "Let me work it out.");
        assert_eq!(messages[0].tool_calls.len(), 2);
        assert_eq!(
            messages[0].tool_calls[0].function.arguments["expression"],
            "6*7"
        );
        assert_eq!(messages[1].content, "42");
        assert_eq!(messages[1].tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(messages[2].content, REJECTED_RESULT);
        assert_eq!(messages[3].content, "The answer is 42.");
        assert_eq!(reply.tool_rounds(), 1);
        assert!(reply.tool_calls_ready());
        reply.tool_uses.iter_mut().for_each(|u| u.delivered = true);
        assert!(!reply.tool_calls_ready());
        reply.tool_uses[1].state = ToolState::Pending;
        reply.tool_uses[1].delivered = false;
        assert!(reply.tool_call_pending() && !reply.tool_calls_ready());
    }

    #[test]
    fn other_versions_and_unsettled_calls_are_not_read() {
        let mut reply = LoggedMessage::new(Role::Assistant, "first");
        reply.versions.push("second".into());
        reply.current = 1;
        reply.tool_uses = vec![call("call_1", 0, ToolState::Done, "42")];
        assert_eq!(reply.prompt_messages().len(), 1);
        reply.tool_uses[0].version = 1;
        reply.tool_uses[0].state = ToolState::Pending;
        let messages = reply.prompt_messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].content, "second");
    }

    #[test]
    fn places_past_the_text_or_inside_a_character_are_clamped() {
        let mut reply = LoggedMessage::new(Role::Assistant, "日本");
        reply.tool_uses = vec![call("call_1", 1, ToolState::Done, "x")];
        let segments = reply.tool_segments();
        assert_eq!(segments[0].0, "");
        assert_eq!(segments[1].0, "日本");
        reply.tool_uses[0].at = 99;
        assert_eq!(reply.tool_segments()[0].0, "日本");
    }

    #[test]
    fn the_same_call_compares_arguments_as_json() {
        let c = call("call_1", 0, ToolState::Done, "42");
        assert!(c.same_call("calculator", r#"{ "expression":"6*7" }"#));
        assert!(!c.same_call("calculator", r#"{"expression": "6*8"}"#));
        assert!(!c.same_call("clock", r#"{"expression": "6*7"}"#));
    }
}
