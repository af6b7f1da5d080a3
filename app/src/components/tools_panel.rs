use leptos::{prelude::*, task::spawn_local};

use super::icons::WrenchIcon;
use crate::api::load_tool_catalog;
use crate::chat_ops::apply_edit;
use crate::state::ChatState;
use crate::types::{ChatEdit, ChatTools, Mode, ToolInfo};

/// The Tools panel: every tool the server offers (built-ins, MCP servers
/// from `mcp.json`) with this chat's switches, and the servers that could
/// not be used. A browser can only switch tools on and off; which
/// commands run is the server owner's file.
#[component]
pub fn ToolsPanel() -> impl IntoView {
    let state = ChatState::expect();
    let load = move || {
        spawn_local(async move {
            match load_tool_catalog().await {
                Ok(catalog) => state.tool_catalog.set(Some(catalog)),
                Err(e) => state.fail(e),
            }
        })
    };
    let on_count = move || {
        state
            .chat
            .with(|c| c.as_ref().map_or(0, |c| c.tools.enabled.len()))
    };
    let not_instruct = move || state.settings.with(|s| s.mode != Mode::Instruct);
    view! {
        <details
            class="tools-panel"
            id="tools-panel"
            on:toggle=move |_| {
                if state.tool_catalog.with_untracked(Option::is_none) {
                    load();
                }
            }
        >
            <summary title="Tools the model may call in this chat">
                <WrenchIcon />
                <span class="tools-label">"Tools"</span>
                {move || match on_count() {
                    0 => String::new(),
                    n => format!(" ({n} on)"),
                }}
            </summary>
            <div class="tools-body">
                <Show when=not_instruct>
                    <p class="hint">"Tools are offered in instruct mode, where the model's template teaches it how to call them."</p>
                </Show>
                {move || match state.tool_catalog.get() {
                    None => view! { <p class="hint">"Loading tools…"</p> }.into_any(),
                    Some(catalog) => view! {
                        <ul class="tool-list">
                            {catalog.tools.into_iter().map(|tool| view! { <ToolRow tool /> }).collect_view()}
                        </ul>
                        {catalog.problems.into_iter().map(|p| view! {
                            <p class="tool-problem">{format!("{}: {}", p.source, p.message)}</p>
                        }).collect_view()}
                    }.into_any(),
                }}
            </div>
        </details>
    }
}

#[component]
fn ToolRow(tool: ToolInfo) -> impl IntoView {
    view! {
        <li class="tool-row" data-tool=tool.name.clone()>
            <label class="tool-switch">
                <ToolSwitch name=tool.name.clone() class="tool-enabled" is_on=ChatTools::is_enabled edit=enable />
                <span class="tool-name">{tool.name.clone()}</span>
                <span class="tool-source">{tool.source.clone()}</span>
            </label>
            <p class="tool-description">{tool.description.clone()}</p>
            <label class="tool-always">
                <ToolSwitch name=tool.name.clone() class="tool-always-allow" is_on=ChatTools::is_always_allowed edit=always_allow />
                "run without asking"
            </label>
        </li>
    }
}

fn enable(name: String, enabled: bool) -> ChatEdit {
    ChatEdit::EnableTool { name, enabled }
}

fn always_allow(name: String, allowed: bool) -> ChatEdit {
    ChatEdit::AlwaysAllowTool { name, allowed }
}

/// One of a tool's switches in the open chat: checked from the chat's
/// [`ChatTools`], saved as the chat edit `edit` makes.
#[component]
fn ToolSwitch(
    name: String,
    class: &'static str,
    is_on: fn(&ChatTools, &str) -> bool,
    edit: fn(String, bool) -> ChatEdit,
) -> impl IntoView {
    let state = ChatState::expect();
    let checked = {
        let name = name.clone();
        move || {
            state
                .chat
                .with(|c| c.as_ref().is_some_and(|c| is_on(&c.tools, &name)))
        }
    };
    view! {
        <input
            type="checkbox"
            class=class
            prop:checked=checked
            disabled=move || state.busy()
            on:change=move |ev| apply_edit(state, edit(name.clone(), event_target_checked(&ev)), || {})
        />
    }
}
