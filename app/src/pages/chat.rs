use leptos::prelude::*;

use crate::clipboard;
use crate::components::{
    ActionBar, ChatList, Composer, MessageView, ModeSwitch, PromptPanel, StatusLine, ToolsPanel,
};
use crate::state::ChatState;

/// The Chat tab: past chats, the conversation, the prompt that was sent,
/// the chat actions and the message box.
#[component]
pub fn ChatPage() -> impl IntoView {
    let state = ChatState::expect();
    let all = Memo::new(move |_| state.shown());
    let count = move || all.with(Vec::len);

    // Copy buttons inside rendered code blocks (their HTML is generated, so
    // one listener on the list handles them all).
    let on_click = move |ev: web_sys::MouseEvent| {
        use wasm_bindgen::JsCast;
        let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        if !target.class_list().contains("copy-code") {
            return;
        }
        if let Some(code) = target
            .parent_element()
            .and_then(|block| block.query_selector("code").ok().flatten())
        {
            clipboard::copy(&code.text_content().unwrap_or_default());
            target.set_text_content(Some("Copied"));
        }
    };

    // Show a message that was just added (the one sent, a new reply) at
    // once, and follow a growing reply unless the user scrolled up to read.
    let list = NodeRef::<leptos::html::Div>::new();
    let shown_count = StoredValue::new(0usize);
    Effect::new(move |_| {
        let count = all.with(Vec::len);
        let added = count > shown_count.get_value();
        shown_count.set_value(count);
        if let Some(el) = list.get() {
            let near_bottom = el.scroll_height() - el.scroll_top() - el.client_height() < 120;
            if added || near_bottom || !state.busy() {
                el.set_scroll_top(el.scroll_height());
            }
        }
    });

    // On a narrow screen (a phone, half a laptop) the past chats are a
    // drawer opened from the menu button; opening or starting a chat
    // closes it.
    let drawer = RwSignal::new(false);
    let close_after_choice = move |ev: web_sys::MouseEvent| {
        use wasm_bindgen::JsCast;
        let chose = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest(".chat-entry, #new-chat").ok().flatten())
            .is_some();
        if chose {
            drawer.set(false);
        }
    };

    view! {
        <div class="chat-layout">
            <aside class="chat-sidebar" class:open=move || drawer.get() on:click=close_after_choice>
                <ChatList />
            </aside>
            <Show when=move || drawer.get()>
                <div class="drawer-backdrop" on:click=move |_| drawer.set(false)></div>
            </Show>
            <div class="chat">
                <div class="chat-controls">
                    <button
                        id="chats-menu"
                        class="drawer-toggle"
                        aria-label="Past chats"
                        title="Past chats"
                        aria-expanded=move || drawer.get().to_string()
                        on:click=move |_| drawer.update(|open| *open = !*open)
                    >
                        "☰"
                    </button>
                    <ModeSwitch />
                    <ToolsPanel />
                </div>
                <div
                    class=move || format!("messages style-{}", state.settings.with(|s| s.chat_style.as_str()))
                    id="messages"
                    node_ref=list
                    on:click=on_click
                >
                    <Show when=move || count() == 0>
                        <p class="empty-hint">"Type a message below. Enter sends, Shift+Enter adds a line."</p>
                    </Show>
                    <For each=move || 0..count() key=|i| *i let:index>
                        <MessageView index all />
                    </For>
                </div>
                <PromptPanel />
                <StatusLine />
                <ActionBar />
                <Composer />
            </div>
        </div>
    }
}
