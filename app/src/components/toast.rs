use std::time::Duration;

use leptos::prelude::*;

use crate::state::ChatState;

/// How long a notice ("Saved preset X.") stays on screen.
const SHOWN_FOR: Duration = Duration::from_secs(6);

/// Notices as a toast at the bottom of the window, whatever tab is open
/// and however far it is scrolled, clearing themselves: a save or import
/// on a long Parameters page is confirmed where the user is looking.
#[component]
pub fn Toast() -> impl IntoView {
    let state = ChatState::expect();
    Effect::new(move |_| {
        let Some(shown) = state.notice.get() else {
            return;
        };
        set_timeout(
            move || {
                // Only this notice: a newer one gets its own time.
                if state.notice.get_untracked().as_deref() == Some(shown.as_str()) {
                    state.notice.set(None);
                }
            },
            SHOWN_FOR,
        );
    });
    view! {
        <div class="toast-area" role="status" aria-live="polite">
            {move || state.notice.get().map(|n| view! {
                <p class="notice toast" on:click=move |_| state.notice.set(None)>{n}</p>
            })}
        </div>
    }
}
