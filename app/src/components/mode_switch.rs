use leptos::prelude::*;

use crate::state::ChatState;
use crate::types::Mode;

/// chat / chat-instruct / instruct and, in the modes with a character, the
/// character picker, beside the chat as on text-generation-webui's Chat tab
/// (switching opens that character's last chat).
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
            <Show when=move || state.settings.with(|s| s.mode != Mode::Instruct)>
                <label class="mode-character">
                    <span class="mode-character-label">"Character "</span>
                    <select
                        id="chat-character"
                        disabled=move || state.busy()
                        on:change=move |ev| state.settings.update(|s| s.character = event_target_value(&ev))
                    >
                        <For each=move || state.characters.get() key=|c| c.clone() let:name>
                            <option value=name.clone() prop:selected={
                                let name = name.clone();
                                move || state.settings.with(|s| s.character == name)
                            }>{name.clone()}</option>
                        </For>
                    </select>
                </label>
            </Show>
        </div>
    }
}
