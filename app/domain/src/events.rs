use serde::{Deserialize, Serialize};

/// Why a reply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model emitted end-of-sequence or a stop string appeared.
    Stop,
    /// `max_new_tokens` (or the context) ran out.
    Length,
    /// Stopped by the user or because the client went away.
    Cancelled,
    /// Cut off by the server (shutting down, the model switched or
    /// unloaded).
    Interrupted,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Cancelled => "cancelled",
            FinishReason::Interrupted => "interrupted",
        }
    }
}

/// Numbers about one finished reply, as the server logs them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV cache was reused from the previous request.
    #[serde(default)]
    pub cached_tokens: u32,
    pub completion_tokens: u32,
    /// Milliseconds from the request reaching the engine to the first token.
    pub time_to_first_token_ms: f64,
    pub prompt_tokens_per_second: f64,
    pub decode_tokens_per_second: f64,
}

/// One event of a streamed reply. On the wire each event is one line of JSON
/// (see [`StreamEvent::to_line`]), so that a reader can split a byte stream
/// that the network chunked arbitrarily.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// Where the reply goes in the chat, as the server decided (the first
    /// event of a chat reply).
    Placed { placement: super::Placement },
    /// The exact prompt sent to the model (prompt transparency).
    Prompt {
        text: String,
        tokens: u32,
        /// How many of the oldest messages were left out to fit the context.
        dropped_messages: u32,
    },
    /// The chat was saved with this revision (the user's message before
    /// generating, the reply after).
    Saved { revision: u64 },
    /// The request waits for a free slot, behind `ahead` others.
    Waiting { ahead: u32 },
    /// The prompt is being read: `done` of `total` tokens.
    Reading { done: u32, total: u32 },
    /// More reply text, never splitting a UTF-8 character.
    Text { text: String },
    /// A tool the reply called is running.
    RunningTool { name: String },
    /// The calls of the reply being extended, as they now stand (after
    /// the approved ones ran).
    ToolUses { uses: Vec<super::ToolUse> },
    /// The reply ended; always the last event unless an error came first.
    Done {
        finish_reason: FinishReason,
        stats: GenerationStats,
    },
    /// Generation failed; the message is meant for the user.
    Error { message: String },
}

impl StreamEvent {
    /// The event as one newline-terminated JSON line.
    pub fn to_line(&self) -> String {
        // Serialising these plain enums cannot fail.
        let mut line = serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","message":"event could not be encoded"}"#.to_string()
        });
        line.push('\n');
        line
    }
}

/// Splits a byte stream into events: bytes are buffered until a newline, so
/// a chunk boundary inside a line (or inside a multi-byte character) is fine.
#[derive(Default)]
pub struct EventLineDecoder {
    buffer: Vec<u8>,
}

impl EventLineDecoder {
    /// Feeds one network chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<StreamEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=pos).collect();
            let line = &line[..line.len() - 1];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            events.push(
                serde_json::from_slice(line).unwrap_or_else(|e| StreamEvent::Error {
                    message: format!("malformed event from the server: {e}"),
                }),
            );
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_arbitrary_chunking() {
        let events = vec![
            StreamEvent::Text {
                text: "你好，世界".into(),
            },
            StreamEvent::Text {
                text: " and more\nlines".into(),
            },
            StreamEvent::Done {
                finish_reason: FinishReason::Stop,
                stats: GenerationStats::default(),
            },
        ];
        let wire: Vec<u8> = events
            .iter()
            .flat_map(|e| e.to_line().into_bytes())
            .collect();
        // Every split point, including ones inside a multi-byte character.
        for split in 0..wire.len() {
            let mut decoder = EventLineDecoder::default();
            let mut got = decoder.push(&wire[..split]);
            got.extend(decoder.push(&wire[split..]));
            assert_eq!(got, events, "split at byte {split}");
        }
    }

    #[test]
    fn garbage_becomes_an_error_event() {
        let mut decoder = EventLineDecoder::default();
        let got = decoder.push(b"not json\n");
        assert!(matches!(got.as_slice(), [StreamEvent::Error { .. }]));
    }
}
