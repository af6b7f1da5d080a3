use leptos::prelude::*;

use crate::api::load_model_status;
use crate::types::ModelStatus;

/// Shows which model answers, or why none does.
#[component]
pub fn ModelBadge() -> impl IntoView {
    let state = crate::state::ChatState::expect();
    let status = Resource::new(move || state.model_version.get(), |_| load_model_status());
    // The model that answers is known: an instruction template chosen for
    // another one gives way to this model's own, and the page says so.
    Effect::new(move |_| {
        let Some(Ok(ModelStatus::Ready { name, .. })) = status.get() else {
            return;
        };
        state.model_name.set(Some(name.clone()));
        if !state.ready.get() {
            return;
        }
        let mut settings = state.settings.get_untracked();
        let dropped = settings.follow_model(&name);
        if state.settings.with_untracked(|s| *s != settings) {
            state.settings.set(settings);
        }
        if let Some(template) = dropped {
            state.notice.set(Some(format!(
                "{name} uses its own chat template; the instruction template {template} was chosen for another model."
            )));
        }
    });
    view! {
        <Suspense fallback=|| view! { <span class="model-badge">"…"</span> }>
            {move || {
                status
                    .get()
                    .map(|s| match s {
                        Ok(ModelStatus::Ready { name, device, context_length, .. }) => {
                            view! {
                                <span class="model-badge ready" title=format!("context {context_length} tokens")>
                                    {format!("{name} · {device}")}
                                </span>
                            }
                                .into_any()
                        }
                        Ok(ModelStatus::Failed { reason }) => {
                            view! {
                                <span class="model-badge failed" role="alert">
                                    {format!("No model: {reason}")}
                                </span>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <span class="model-badge failed">{e.to_string()}</span> }.into_any(),
                    })
            }}
        </Suspense>
    }
}
