use leptos::prelude::*;

use super::icons::WrenchIcon;
use crate::chat_ops::apply_edit;
use crate::generation::continue_with_tools;
use crate::state::ChatState;
use crate::types::{ChatEdit, ToolState, ToolUse};

/// A tool call in a reply: its name, arguments and result, collapsed once
/// settled. A call waiting for the user offers Approve and Reject, and
/// "always allow" for the tool in this chat; once no call waits, the
/// approved ones run and the reply goes on.
#[component]
pub fn ToolCallBlock(call: ToolUse) -> impl IntoView {
    let state = ChatState::expect();
    let always = RwSignal::new(false);
    let pending = call.state == ToolState::Pending;
    let (id, name) = (call.id.clone(), call.name.clone());
    let decide = move |approve: bool| {
        let (id, name) = (id.clone(), name.clone());
        let always = approve && always.get_untracked();
        apply_edit(state, ChatEdit::DecideToolCall { id, approve }, move || {
            if always {
                let edit = ChatEdit::AlwaysAllowTool {
                    name,
                    allowed: true,
                };
                apply_edit(state, edit, move || {
                    continue_with_tools(state);
                });
            } else {
                continue_with_tools(state);
            }
        });
    };
    let decide_again = decide.clone();
    let busy = move || state.busy();
    let (label, class) = match call.state {
        ToolState::Pending => ("waiting for your approval", "pending"),
        ToolState::Approved => ("approved", "approved"),
        ToolState::Rejected => ("rejected", "rejected"),
        ToolState::Done => ("done", "done"),
        ToolState::Failed => ("failed", "failed"),
    };
    let result = match call.state {
        ToolState::Done | ToolState::Failed => Some(call.result.clone()),
        ToolState::Rejected => Some(crate::types::REJECTED_RESULT.to_string()),
        _ => None,
    };
    let always_label = format!("Always allow {} in this chat", call.name);
    view! {
        <details class=format!("tool-call {class}") data-tool=call.name.clone() open=pending>
            <summary>
                <WrenchIcon />
                <span class="tool-name">{call.name.clone()}</span>
                <span class="tool-state">{label}</span>
            </summary>
            <div class="tool-label">"Arguments"</div>
            <pre class="tool-arguments">{pretty(&call.arguments)}</pre>
            {result.map(|text| view! {
                <div class="tool-label">"Result"</div>
                <pre class="tool-result">{text}</pre>
            })}
            {pending.then(|| view! {
                <div class="tool-decision">
                    <button class="approve-tool primary" disabled=busy on:click=move |_| decide(true)>
                        "Approve"
                    </button>
                    <button class="reject-tool" disabled=busy on:click=move |_| decide_again(false)>
                        "Reject"
                    </button>
                    <label class="always-allow">
                        <input
                            type="checkbox"
                            on:change=move |ev| always.set(event_target_checked(&ev))
                        />
                        {always_label.clone()}
                    </label>
                </div>
            })}
        </details>
    }
}

/// The arguments indented, as people read JSON.
fn pretty(arguments: &str) -> String {
    serde_json::from_str::<serde_json::Value>(arguments)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| arguments.to_string())
}
