//! The browser-side state both tabs share, provided once as context.

use leptos::prelude::*;

use crate::types::{ChatMessage, GenerationParams, GenerationStats};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Chat,
    Parameters,
}

impl Tab {
    pub fn label(self) -> &'static str {
        match self {
            Tab::Chat => "Chat",
            Tab::Parameters => "Parameters",
        }
    }
}

#[derive(Clone, Copy)]
pub struct ChatState {
    pub tab: RwSignal<Tab>,
    pub params: RwSignal<GenerationParams>,
    pub messages: RwSignal<Vec<ChatMessage>>,
    /// The id of the generation in flight, if any.
    pub generating: RwSignal<Option<String>>,
    pub error: RwSignal<Option<String>>,
    pub last_stats: RwSignal<Option<GenerationStats>>,
}

impl ChatState {
    pub fn new() -> Self {
        Self {
            tab: RwSignal::new(Tab::Chat),
            params: RwSignal::new(GenerationParams::default()),
            messages: RwSignal::new(Vec::new()),
            generating: RwSignal::new(None),
            error: RwSignal::new(None),
            last_stats: RwSignal::new(None),
        }
    }

    pub fn expect() -> Self {
        expect_context::<Self>()
    }
}
