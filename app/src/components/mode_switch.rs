use leptos::prelude::*;

use crate::state::ChatState;
use crate::types::Mode;

/// chat / chat-instruct / instruct, as on text-generation-webui's Chat tab.
#[component]
pub fn ModeSwitch() -> impl IntoView {
    let state = ChatState::expect();
    let option = move |mode: Mode, label: &'static str| {
        view! {
            <label class="mode-option">
                <input
                    type="radio"
                    name="mode"
                    value=mode.as_str()
                    prop:checked=move || state.settings.with(|s| s.mode == mode)
                    disabled=move || state.busy()
                    on:change=move |_| state.settings.update(|s| s.mode = mode)
                />
                {label}
            </label>
        }
    };
    view! {
        <div class="mode-switch" role="radiogroup" aria-label="Mode" data-character=move || state.settings.with(|s| s.character.clone())>
            {option(Mode::Chat, "chat")}
            {option(Mode::ChatInstruct, "chat-instruct")}
            {option(Mode::Instruct, "instruct")}
            <span class="mode-character">
                {move || {
                    state
                        .settings
                        .with(|s| if s.mode == Mode::Instruct { String::new() } else { format!("Character: {}", s.character) })
                }}
            </span>
        </div>
    }
}
