//! A streamed Response: `response.created`, then each output item as it
//! grows (`output_item.added`, `content_part.added`, `output_text.delta`,
//! `function_call_arguments.delta`, their `.done` events), then
//! `response.completed` with the whole response. Every event carries its
//! `sequence_number`.

use std::convert::Infallible;

use axum::response::sse::Event;
use serde_json::{json, Value};

use super::{call_item, message_item, reasoning_item, status_of, Ending, Envelope};
use crate::openai::{
    reply::{ReplyShaper, Shaped},
    sse::new_id,
    ApiError,
};
use engine::{EngineEvent, FinishReason};

/// The item being written: reasoning or message text.
enum Open {
    Reasoning { id: String, text: String },
    Message { id: String, text: String },
}

pub(super) struct Items {
    shaper: ReplyShaper,
    envelope: Envelope,
    sequence: u64,
    /// Finished items, in order.
    done: Vec<Value>,
    open: Option<Open>,
}

impl Items {
    pub(super) fn new(shaper: ReplyShaper, envelope: Envelope) -> Self {
        Self {
            shaper,
            envelope,
            sequence: 0,
            done: Vec::new(),
            open: None,
        }
    }

    fn event(&mut self, kind: &str, mut data: Value) -> Result<Event, Infallible> {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        Ok(Event::default()
            .event(kind)
            .data(serde_json::to_string(&data).unwrap_or_default()))
    }

    pub(super) fn opening(&mut self) -> Vec<Result<Event, Infallible>> {
        let response = self.envelope.response("in_progress", Vec::new(), None);
        vec![
            self.event("response.created", json!({ "response": response })),
            self.event("response.in_progress", json!({ "response": response })),
        ]
    }

    pub(super) fn on(&mut self, e: EngineEvent) -> Vec<Result<Event, Infallible>> {
        match e {
            EngineEvent::Text(text) => {
                let shaped = self.shaper.push(&text);
                self.emit(shaped)
            }
            EngineEvent::Finished { reason, stats } => {
                let shaped = self.shaper.finish();
                let mut out = self.emit(shaped);
                out.extend(self.close());
                if reason == FinishReason::Interrupted {
                    out.push(self.error(&ApiError::Interrupted));
                    return out;
                }
                let end = Ending { reason, stats };
                let response =
                    self.envelope
                        .response(status_of(reason), self.done.clone(), Some(&end));
                let kind = if reason == FinishReason::Length {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                out.push(self.event(kind, json!({ "response": response })));
                out
            }
            EngineEvent::Failed(e) => {
                let mut out = self.close();
                out.push(self.error(&ApiError::from(e)));
                out
            }
            EngineEvent::Waiting { .. }
            | EngineEvent::Reading { .. }
            | EngineEvent::Logprobs(_) => Vec::new(),
        }
    }

    fn error(&mut self, e: &ApiError) -> Result<Event, Infallible> {
        let body = e.body();
        self.event(
            "error",
            json!({"code": body.error.code, "message": body.error.message, "param": body.error.param}),
        )
    }

    fn index(&self) -> usize {
        self.done.len()
    }

    fn close(&mut self) -> Vec<Result<Event, Infallible>> {
        let Some(open) = self.open.take() else {
            return Vec::new();
        };
        let index = self.index();
        let mut out = Vec::new();
        let item = match open {
            Open::Reasoning { id, text } => {
                let part = json!({"type": "summary_text", "text": text});
                out.push(self.event(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0, "text": text}),
                ));
                out.push(self.event(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0, "part": part}),
                ));
                reasoning_item(&id, &text)
            }
            Open::Message { id, text } => {
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                out.push(self.event(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text}),
                ));
                out.push(self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                ));
                message_item(&id, &text, "completed")
            }
        };
        out.push(self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
        self.done.push(item);
        out
    }

    fn emit(&mut self, shaped: Shaped) -> Vec<Result<Event, Infallible>> {
        let mut out = Vec::new();
        if !shaped.reasoning.is_empty() {
            if !matches!(self.open, Some(Open::Reasoning { .. })) {
                out.extend(self.close());
                let id = new_id("rs");
                let index = self.index();
                out.push(self.event(
                    "response.output_item.added",
                    json!({"output_index": index, "item": {"type": "reasoning", "id": id, "summary": []}}),
                ));
                out.push(self.event(
                    "response.reasoning_summary_part.added",
                    json!({"item_id": id, "output_index": index, "summary_index": 0,
                           "part": {"type": "summary_text", "text": ""}}),
                ));
                self.open = Some(Open::Reasoning {
                    id,
                    text: String::new(),
                });
            }
            let index = self.index();
            if let Some(Open::Reasoning { id, text }) = &mut self.open {
                text.push_str(&shaped.reasoning);
                let id = id.clone();
                out.push(self.event(
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": shaped.reasoning}),
                ));
            }
        }
        if !shaped.content.is_empty() {
            if !matches!(self.open, Some(Open::Message { .. })) {
                out.extend(self.close());
                let id = new_id("msg");
                let index = self.index();
                let mut item = message_item(&id, "", "in_progress");
                item["content"] = json!([]);
                out.push(self.event(
                    "response.output_item.added",
                    json!({"output_index": index, "item": item}),
                ));
                out.push(self.event(
                    "response.content_part.added",
                    json!({"item_id": id, "output_index": index, "content_index": 0,
                           "part": {"type": "output_text", "text": "", "annotations": []}}),
                ));
                self.open = Some(Open::Message {
                    id,
                    text: String::new(),
                });
            }
            let index = self.index();
            if let Some(Open::Message { id, text }) = &mut self.open {
                text.push_str(&shaped.content);
                let id = id.clone();
                out.push(self.event(
                    "response.output_text.delta",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "delta": shaped.content, "logprobs": []}),
                ));
            }
        }
        for call in &shaped.calls {
            out.extend(self.close());
            let (id, call_id) = (new_id("fc"), new_id("call"));
            let index = self.index();
            let mut added = call_item(&id, &call_id, call, "in_progress");
            added["arguments"] = json!("");
            out.push(self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": added}),
            ));
            out.push(self.event(
                "response.function_call_arguments.delta",
                json!({"item_id": id, "output_index": index, "delta": call.arguments}),
            ));
            out.push(self.event(
                "response.function_call_arguments.done",
                json!({"item_id": id, "output_index": index, "arguments": call.arguments}),
            ));
            let item = call_item(&id, &call_id, call, "completed");
            out.push(self.event(
                "response.output_item.done",
                json!({"output_index": index, "item": item}),
            ));
            self.done.push(item);
        }
        out
    }
}
