use leptos::prelude::*;

use crate::state::ChatState;

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
