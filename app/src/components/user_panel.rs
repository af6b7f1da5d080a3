use leptos::prelude::*;

use crate::state::ChatState;
use crate::types::ChatStyle;

/// Who the user is in chat modes: name (default "You") and a short bio.
#[component]
pub fn UserPanel() -> impl IntoView {
    let state = ChatState::expect();
    view! {
        <div class="panel user-panel">
            <h2>"User"</h2>
            <label for="user-name">"Name"</label>
            <input
                id="user-name"
                prop:value=move || state.settings.with(|s| s.user.name.clone())
                on:change=move |ev| {
                    let name = event_target_value(&ev);
                    state.settings.update(|s| s.user.name = if name.trim().is_empty() { "You".into() } else { name });
                }
            />
            <label for="chat-style">"Chat style"</label>
            <select
                id="chat-style"
                on:change=move |ev| {
                    let name = event_target_value(&ev);
                    state.settings.update(|s| s.chat_style = ChatStyle::from_name(&name));
                }
            >
                {ChatStyle::ALL
                    .into_iter()
                    .map(|style| {
                        view! {
                            <option
                                value=style.as_str()
                                prop:selected=move || state.settings.with(|s| s.chat_style == style)
                            >
                                {style.as_str()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <label for="user-bio">"Bio"</label>
            <textarea
                id="user-bio"
                rows="3"
                prop:value=move || state.settings.with(|s| s.user.bio.clone())
                on:change=move |ev| state.settings.update(|s| s.user.bio = event_target_value(&ev))
            ></textarea>
        </div>
    }
}
