use leptos::prelude::*;

use crate::components::{CharacterPanel, NumberField, PresetBar, TemplatePanel, UserPanel};
use crate::state::ChatState;
use crate::types::GenerationParams;

/// Builds a NumberField bound to one numeric field of the parameters.
macro_rules! param_field {
    ($state:expr, $field:ident, $min:expr, $max:expr, $step:expr, $help:expr) => {{
        let params = $state.params;
        view! {
            <NumberField
                label=stringify!($field)
                id=concat!("param-", stringify!($field))
                min=$min
                max=$max
                step=$step
                help=$help
                value=Signal::derive(move || params.with(|p| p.$field as f64))
                set=move |v: f64| params.update(|p| p.$field = v as _)
            />
        }
    }};
}

/// The Parameters tab: presets and every sampler the engine supports (with
/// text-generation-webui's names and ranges), the character, the user, and
/// the instruction template.
#[component]
pub fn ParametersPage() -> impl IntoView {
    let state = ChatState::expect();
    let params = state.params;
    let problem = move || params.with(|p| p.validate().err().map(|e| e.to_string()));
    let stops_text = move || params.with(|p| p.custom_stopping_strings.join("\n"));

    view! {
        <div class="parameters">
            <div class="panel">
                <h2>"Generation"</h2>
                {move || problem().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <PresetBar />
                <div class="param-grid">
                    {param_field!(state, max_new_tokens, 1.0, 4096.0, 1.0, "Longest reply, in tokens")}
                    {param_field!(state, temperature, 0.0, 5.0, 0.01, "Randomness; 0 is greedy")}
                    {param_field!(state, top_p, 0.01, 1.0, 0.01, "Keep the most likely tokens whose probabilities add up to this; 1 is off")}
                    {param_field!(state, top_k, 0.0, 200.0, 1.0, "Keep only the k most likely tokens; 0 is off")}
                    {param_field!(state, min_p, 0.0, 1.0, 0.01, "Drop tokens less likely than this fraction of the best one; 0 is off")}
                    {param_field!(state, typical_p, 0.01, 1.0, 0.01, "Locally typical sampling; 1 is off")}
                    {param_field!(state, repetition_penalty, 1.0, 1.5, 0.01, "Penalise tokens already in the context; 1 is off")}
                    {param_field!(state, repetition_penalty_range, 0.0, 4096.0, 1.0, "How many recent tokens the penalties see; 0 is all")}
                    {param_field!(state, presence_penalty, -2.0, 2.0, 0.05, "Penalise any token already present")}
                    {param_field!(state, frequency_penalty, -2.0, 2.0, 0.05, "Penalise tokens by how often they appeared")}
                    {param_field!(state, seed, -1.0, 4294967295.0, 1.0, "-1 is random")}
                    {param_field!(state, truncation_length, 0.0, 32768.0, 256.0, "Prompt limit in tokens (oldest turns go first); 0 is the model's context")}
                </div>
                <div class="checks">
                    <label>
                        <input
                            type="checkbox"
                            id="param-do_sample"
                            prop:checked=move || params.with(|p| p.do_sample)
                            on:change=move |ev| params.update(|p| p.do_sample = event_target_checked(&ev))
                        />
                        " do_sample"
                    </label>
                    <label>
                        <input
                            type="checkbox"
                            id="param-ban_eos_token"
                            prop:checked=move || params.with(|p| p.ban_eos_token)
                            on:change=move |ev| params.update(|p| p.ban_eos_token = event_target_checked(&ev))
                        />
                        " ban_eos_token"
                    </label>
                </div>
                <label for="param-custom_stopping_strings">"custom_stopping_strings (one per line; \\n is a newline)"</label>
                <textarea
                    id="param-custom_stopping_strings"
                    rows="3"
                    prop:value=stops_text
                    on:change=move |ev| {
                        let text = event_target_value(&ev);
                        params.update(|p| p.custom_stopping_strings = parse_stop_lines(&text));
                    }
                ></textarea>
                <button id="reset-params" on:click=move |_| params.set(GenerationParams::default())>
                    "Reset to defaults"
                </button>
            </div>
            <CharacterPanel />
            <UserPanel />
            <TemplatePanel />
        </div>
    }
}

/// One stop string per non-empty line; `\n` written out means a newline.
fn parse_stop_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.replace("\\n", "\n"))
        .collect()
}
