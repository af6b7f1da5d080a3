//! A chat log in text-generation-webui's JSON format:
//! `{"internal": [[user, bot], ...], "visible": [[user, bot], ...],
//! "metadata": {"assistant_N": {"versions": [...], "current_version_index": i}}}`
//! plus our revision number. TGW's older `{"data", "data_visible"}` files are
//! read too. Metadata we do not manage is kept as it was. Ours:
//! `candlelight_tools` (the chat's tool switches), per reply
//! `candlelight_reply` (its numbers) and `candlelight_tool_uses` (its calls),
//! per user message `candlelight_sent` (its numbers), `candlelight_versions`
//! and `candlelight_forks`. TGW's own `timestamp` is written beside our
//! numbers so that TGW shows when messages were made.

use domain::{Attachment, ChatKey, ChatLog, ChatTools, LoggedMessage, Role};
use serde_json::{json, Map, Value};

use super::tgw_time::tgw_timestamp;

/// TGW marks a greeting (a reply with no user message) this way.
const BEGIN_VISIBLE: &str = "<|BEGIN-VISIBLE-CHAT|>";

/// The parsed file: messages, revision, and whatever else it held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatFile {
    pub messages: Vec<LoggedMessage>,
    pub revision: u64,
    pub tools: ChatTools,
    /// Metadata entries we keep but do not interpret.
    pub other_metadata: Map<String, Value>,
}

impl ChatFile {
    pub fn into_log(self, key: ChatKey) -> ChatLog {
        ChatLog {
            key,
            revision: self.revision,
            messages: self.messages,
            tools: self.tools,
        }
    }
}

const TOOLS_KEY: &str = "candlelight_tools";
const USER_VERSIONS_KEY: &str = "candlelight_versions";
const FORKS_KEY: &str = "candlelight_forks";
const TOOL_USES_KEY: &str = "candlelight_tool_uses";
const SENT_KEY: &str = "candlelight_sent";
const REPLY_KEY: &str = "candlelight_reply";

/// Each row must be `[user, bot]`, two strings, as TGW writes it: a file
/// with anything else in its rows is not a chat (not an empty one).
fn pairs(value: Option<&Value>) -> Option<Vec<(String, String)>> {
    value?
        .as_array()?
        .iter()
        .map(|pair| match pair.as_array()?.as_slice() {
            [Value::String(user), Value::String(bot)] => Some((user.clone(), bot.clone())),
            _ => None,
        })
        .collect()
}

/// Parses a chat file; `None` when it is not a chat in either TGW format.
pub fn parse(value: &Value) -> Option<ChatFile> {
    let obj = value.as_object()?;
    let internal = pairs(obj.get("internal")).or_else(|| pairs(obj.get("data")))?;
    let mut metadata = obj
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let revision = obj
        .get("candlelight_revision")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let tools = metadata
        .remove(TOOLS_KEY)
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();

    let mut messages = Vec::new();
    for (row, (user, bot)) in internal.into_iter().enumerate() {
        let entry = metadata.remove(&format!("user_{row}"));
        let attachments = entry.as_ref().map(text_attachments).unwrap_or_default();
        let has_versions = entry
            .as_ref()
            .is_some_and(|e| e.get(USER_VERSIONS_KEY).is_some());
        if (!user.is_empty() && user != BEGIN_VISIBLE) || !attachments.is_empty() || has_versions {
            let mut message = LoggedMessage::new(Role::User, user.replace(BEGIN_VISIBLE, ""));
            message.attachments = attachments;
            if let Some(entry) = &entry {
                read_user_versions(&mut message, entry);
                message.sent_info = entry
                    .get(SENT_KEY)
                    .and_then(|v| serde_json::from_value(v.clone()).ok());
            }
            messages.push(message);
        }
        let entry = metadata.remove(&format!("assistant_{row}"));
        if !bot.is_empty() || entry.is_some() {
            messages.push(assistant_message(bot, entry.as_ref()));
        }
    }
    Some(ChatFile {
        messages,
        revision,
        tools,
        other_metadata: metadata,
    })
}

/// A user message's other versions and the chat after each
/// (`user_N.candlelight_versions`, `user_N.candlelight_forks`); the row's
/// text stays the shown version.
fn read_user_versions(message: &mut LoggedMessage, entry: &Value) {
    let versions: Vec<String> = entry
        .get(USER_VERSIONS_KEY)
        .and_then(|v| v.get("versions"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let current = entry
        .get(USER_VERSIONS_KEY)
        .and_then(|v| v.get("current"))
        .and_then(Value::as_u64)
        .map_or(0, |i| i as usize);
    if versions.len() > 1 && current < versions.len() {
        // The row's text is what TGW shows (and edits): it wins over the
        // kept copy of the shown version.
        let shown = message.text().to_string();
        message.versions = versions;
        message.current = current;
        *message.text_mut() = shown;
        message.forks = entry
            .get(FORKS_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
    }
}

/// The files a user message carried (`user_N.attachments`). TGW also
/// keeps images there; this engine reads no images, so they are left out.
fn text_attachments(entry: &Value) -> Vec<Attachment> {
    entry
        .get("attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("image"))
                .filter_map(|a| serde_json::from_value(a.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The reply with its versions, if the metadata lists them.
fn assistant_message(text: String, entry: Option<&Value>) -> LoggedMessage {
    let versions: Vec<String> = entry
        .and_then(|e| e.get("versions"))
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v.get("content").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let reply_info = entry
        .and_then(|e| e.get(REPLY_KEY))
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let tool_uses = entry
        .and_then(|e| e.get(TOOL_USES_KEY))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    if versions.is_empty() {
        let mut message = LoggedMessage::new(Role::Assistant, text);
        message.reply_info = reply_info;
        message.tool_uses = tool_uses;
        return message;
    }
    let current = entry
        .and_then(|e| e.get("current_version_index"))
        .and_then(Value::as_u64)
        .map_or(0, |i| i as usize)
        .min(versions.len() - 1);
    let mut message = LoggedMessage {
        role: Role::Assistant,
        versions,
        current,
        attachments: Vec::new(),
        reply_info,
        tool_uses,
        forks: Vec::new(),
        sent_info: None,
    };
    // The row's text is what TGW shows; trust it over a stale index.
    if message.text() != text && !text.is_empty() {
        *message.text_mut() = text;
    }
    message
}

/// TGW's `visible` text: the shown text with HTML escaped.
fn visible(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// The file as TGW writes it (pairs of user and bot text).
pub fn render(file: &ChatFile) -> Value {
    let mut internal: Vec<Value> = Vec::new();
    let mut shown: Vec<Value> = Vec::new();
    let mut metadata = file.other_metadata.clone();
    if file.tools != ChatTools::default() {
        metadata.insert(TOOLS_KEY.into(), json!(file.tools));
    }
    let mut pending_user: Option<&LoggedMessage> = None;
    let mut push_row = |user: Option<&LoggedMessage>,
                        bot: &LoggedMessage,
                        internal: &mut Vec<Value>,
                        shown: &mut Vec<Value>| {
        let row = internal.len();
        if let Some(user) = user {
            let mut entry = Map::new();
            if !user.attachments.is_empty() {
                entry.insert("attachments".into(), json!(user.attachments));
            }
            if user.versions.len() > 1 {
                entry.insert(
                    USER_VERSIONS_KEY.into(),
                    json!({"versions": user.versions, "current": user.current}),
                );
            }
            if !user.forks.is_empty() {
                entry.insert(FORKS_KEY.into(), json!(user.forks));
            }
            if let Some(info) = &user.sent_info {
                entry.insert("timestamp".into(), json!(tgw_timestamp(info.sent_at_ms)));
                entry.insert(SENT_KEY.into(), json!(info));
            }
            if !entry.is_empty() {
                metadata.insert(format!("user_{row}"), Value::Object(entry));
            }
        }
        let user = user.map_or("", LoggedMessage::text);
        let user_internal = if user.is_empty() && row == 0 {
            BEGIN_VISIBLE
        } else {
            user
        };
        internal.push(json!([user_internal, bot.text()]));
        shown.push(json!([visible(user), visible(bot.text())]));
        let mut entry = Map::new();
        if bot.versions.len() > 1 {
            let versions: Vec<Value> = bot
                .versions
                .iter()
                .map(|v| json!({"content": v, "visible_content": visible(v)}))
                .collect();
            entry.insert("versions".into(), json!(versions));
            entry.insert("current_version_index".into(), json!(bot.current));
        }
        if let Some(info) = &bot.reply_info {
            entry.insert(
                "timestamp".into(),
                json!(tgw_timestamp(info.finished_at_ms)),
            );
            entry.insert(REPLY_KEY.into(), json!(info));
        }
        if !bot.tool_uses.is_empty() {
            entry.insert(TOOL_USES_KEY.into(), json!(bot.tool_uses));
        }
        if !entry.is_empty() {
            metadata.insert(format!("assistant_{row}"), Value::Object(entry));
        }
    };
    let empty_reply = LoggedMessage::new(Role::Assistant, "");
    for message in &file.messages {
        match message.role {
            Role::User | Role::System | Role::Tool => {
                if let Some(user) = pending_user.take() {
                    push_row(Some(user), &empty_reply, &mut internal, &mut shown);
                }
                pending_user = Some(message);
            }
            Role::Assistant => {
                let user = pending_user.take();
                push_row(user, message, &mut internal, &mut shown);
            }
        }
    }
    if let Some(user) = pending_user {
        push_row(Some(user), &empty_reply, &mut internal, &mut shown);
    }
    json!({
        "internal": internal,
        "visible": shown,
        "metadata": metadata,
        "candlelight_revision": file.revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, text: &str) -> LoggedMessage {
        LoggedMessage::new(role, text)
    }

    #[test]
    fn user_versions_survive_an_edit_in_tgw_and_an_empty_shown_version() {
        let file = |row: &str| {
            json!({
                "internal": [[row, "ok"]],
                "metadata": {"user_0": {
                    "candlelight_versions": {"versions": ["first", "second"], "current": 1},
                    "candlelight_forks": [{"version": 0, "tail": [
                        {"role": "assistant", "versions": ["old reply"], "current": 0}
                    ]}],
                }},
            })
        };
        // Edited in text-generation-webui: the row's text is the shown version.
        let parsed = parse(&file("second, edited")).unwrap();
        assert_eq!(parsed.messages[0].versions, ["first", "second, edited"]);
        assert_eq!(parsed.messages[0].forks[0].tail[0].text(), "old reply");
        // A shown version without text keeps the message and its others.
        let parsed = parse(&file("")).unwrap();
        assert_eq!(parsed.messages[0].role, Role::User);
        assert_eq!(parsed.messages[0].versions[0], "first");
    }

    #[test]
    fn round_trips_greeting_versions_and_a_pending_user_message() {
        let mut reply = msg(Role::Assistant, "Fine.");
        reply.versions.push("Great, thanks!".into());
        reply.current = 1;
        reply.reply_info = Some(domain::ReplyInfo {
            version: 1,
            tokens: 4,
            decitokens_per_second: 551,
            first_token_ms: 230,
            finished_at_ms: 1_796_000_000_000,
        });
        reply.tool_uses = vec![domain::ToolUse {
            id: "call_1".into(),
            version: 1,
            at: 6,
            name: "calculator".into(),
            arguments: r#"{"expression": "2+2"}"#.into(),
            state: domain::ToolState::Done,
            result: "4".into(),
            delivered: true,
            round: 1,
        }];
        // A user message edited and sent again: its first version keeps
        // the reply that followed it.
        let mut asked = msg(Role::User, "How do you do?");
        asked.versions.push("How are you?".into());
        asked.current = 1;
        asked.forks = vec![domain::Fork {
            version: 0,
            tail: vec![msg(Role::Assistant, "Splendid.")],
        }];
        asked.sent_info = Some(domain::SentInfo {
            version: 1,
            sent_at_ms: 1_796_571_179_000,
            tokens: Some(4),
            prompt: Some(domain::PromptRead {
                tokens: 31,
                reused: 12,
                decitokens_per_second: 2104,
            }),
        });
        let file = ChatFile {
            messages: vec![
                msg(Role::Assistant, "Hello! <b>Welcome</b>"),
                asked,
                reply,
                msg(Role::User, "Tell me more."),
            ],
            revision: 7,
            tools: ChatTools {
                enabled: vec!["calculator".into()],
                always_allow: Vec::new(),
            },
            other_metadata: Map::from_iter([("note".to_string(), json!("kept"))]),
        };
        let value = render(&file);
        assert_eq!(value["internal"][0][0], BEGIN_VISIBLE);
        assert_eq!(value["visible"][0][1], "Hello! &lt;b&gt;Welcome&lt;/b&gt;");
        assert_eq!(
            value["internal"][1],
            json!(["How are you?", "Great, thanks!"])
        );
        assert_eq!(value["internal"][2], json!(["Tell me more.", ""]));
        assert_eq!(value["metadata"]["assistant_1"]["current_version_index"], 1);
        assert_eq!(
            value["metadata"]["assistant_1"]["candlelight_tool_uses"][0]["result"],
            "4"
        );
        assert_eq!(
            value["metadata"]["candlelight_tools"]["enabled"][0],
            "calculator"
        );
        assert_eq!(
            value["metadata"]["user_1"]["candlelight_forks"][0]["tail"][0]["versions"][0],
            "Splendid."
        );
        // TGW's own stamps, beside our numbers.
        assert_eq!(
            value["metadata"]["user_1"]["timestamp"],
            "Dec 06, 2026 15:32"
        );
        assert_eq!(
            value["metadata"]["user_1"]["candlelight_sent"]["prompt"]["reused"],
            12
        );
        assert_eq!(
            value["metadata"]["assistant_1"]["timestamp"],
            "Nov 30, 2026 00:53"
        );
        assert_eq!(parse(&value).unwrap(), file);
    }

    #[test]
    fn reads_tgw_files_old_and_new() {
        let new = json!({
            "internal": [["<|BEGIN-VISIBLE-CHAT|>", "Hi!"], ["Q", "A"]],
            "visible": [["", "Hi!"], ["Q", "A"]],
            "metadata": {"user_1": {"timestamp": "x"}}
        });
        let parsed = parse(&new).unwrap();
        assert_eq!(parsed.revision, 0);
        let texts: Vec<&str> = parsed.messages.iter().map(|m| m.text()).collect();
        assert_eq!(texts, ["Hi!", "Q", "A"]);
        let old = json!({"data": [["Q", "A"]], "data_visible": [["Q", "A"]]});
        assert_eq!(parse(&old).unwrap().messages.len(), 2);
        assert!(parse(&json!({"something": 1})).is_none());
        assert!(parse(&json!([1, 2])).is_none());
        // Rows that are not two strings are not an empty chat.
        assert!(parse(&json!({"internal": [[1, 2]]})).is_none());
        assert!(parse(&json!({"internal": [["only one"]]})).is_none());
        assert!(parse(&json!({"internal": []})).unwrap().messages.is_empty());
    }

    #[test]
    fn two_user_messages_in_a_row_survive() {
        let file = ChatFile {
            messages: vec![
                msg(Role::User, "a"),
                msg(Role::User, "b"),
                msg(Role::Assistant, "c"),
            ],
            ..Default::default()
        };
        assert_eq!(parse(&render(&file)).unwrap().messages, file.messages);
    }

    #[test]
    fn attached_files_live_in_the_user_rows_metadata_as_tgw_keeps_them() {
        let mut asked = msg(Role::User, "What does it say?");
        asked.attachments = vec![Attachment {
            name: "notes.txt".into(),
            kind: "text/plain".into(),
            content: "The code word is heron.".into(),
        }];
        let mut files_only = msg(Role::User, "");
        files_only.attachments = asked.attachments.clone();
        let file = ChatFile {
            messages: vec![asked, msg(Role::Assistant, "It says heron."), files_only],
            ..Default::default()
        };
        let value = render(&file);
        assert_eq!(
            value["metadata"]["user_0"]["attachments"][0],
            json!({"name": "notes.txt", "type": "text/plain", "content": "The code word is heron."})
        );
        assert_eq!(
            value["metadata"]["user_1"]["attachments"][0]["name"],
            "notes.txt"
        );
        assert_eq!(parse(&value).unwrap(), file);
        // A TGW image is not read; the text beside it is.
        let tgw = json!({
            "internal": [["Look", "ok"]],
            "visible": [["Look", "ok"]],
            "metadata": {"user_0": {"attachments": [
                {"name": "cat.png", "type": "image", "image_data": "data:image/png;base64,AA"},
                {"name": "a.pdf", "type": "application/pdf", "content": "pdf text"}
            ]}}
        });
        let parsed = parse(&tgw).unwrap();
        assert_eq!(parsed.messages[0].attachments.len(), 1);
        assert_eq!(parsed.messages[0].attachments[0].content, "pdf text");
    }
}
