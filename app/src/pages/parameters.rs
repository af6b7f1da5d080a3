use leptos::prelude::*;

use crate::components::{
    CharacterPanel, CommandPanel, NumberField, PresetBar, TemplatePanel, UserPanel,
};
use crate::state::ChatState;
use crate::types::{GenerationParams, NUMERIC_PARAMS};

/// The Parameters tab's sections, as text-generation-webui splits it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Generation,
    Character,
    Template,
    Command,
    User,
}

impl Section {
    const ALL: [Section; 5] = [
        Section::Generation,
        Section::Character,
        Section::Template,
        Section::Command,
        Section::User,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Generation => "Generation",
            Section::Character => "Character",
            Section::Template => "Instruction template",
            Section::Command => "Chat-instruct command",
            Section::User => "User",
        }
    }

    /// Element id of the section's tab button (tests click these).
    fn id(self) -> &'static str {
        match self {
            Section::Generation => "ptab-generation",
            Section::Character => "ptab-character",
            Section::Template => "ptab-template",
            Section::Command => "ptab-command",
            Section::User => "ptab-user",
        }
    }
}

/// The Parameters tab, in sections (one shown at a time, all kept mounted so
/// unsaved edits survive a switch): presets and every sampler the engine
/// supports (text-generation-webui's names; ranges from `NUMERIC_PARAMS`),
/// the character, the instruction template, the chat-instruct command and
/// the user.
#[component]
pub fn ParametersPage() -> impl IntoView {
    let section = RwSignal::new(Section::Generation);
    let tab = move |s: Section| {
        view! {
            <button
                class="sub-tab"
                role="tab"
                id=s.id()
                class:active=move || section.get() == s
                aria-selected=move || (section.get() == s).to_string()
                on:click=move |_| section.set(s)
            >
                {s.label()}
            </button>
        }
    };
    let shown = move |s: Section| move || section.get() != s;
    view! {
        <div class="parameters">
            <nav class="sub-tabs" role="tablist">{Section::ALL.map(tab).collect_view()}</nav>
            <div class="section" class:hidden=shown(Section::Generation)><GenerationPanel /></div>
            <div class="section" class:hidden=shown(Section::Character)><CharacterPanel /></div>
            <div class="section" class:hidden=shown(Section::Template)><TemplatePanel /></div>
            <div class="section" class:hidden=shown(Section::Command)><CommandPanel /></div>
            <div class="section" class:hidden=shown(Section::User)><UserPanel /></div>
        </div>
    }
}

/// Presets and the samplers.
#[component]
fn GenerationPanel() -> impl IntoView {
    let state = ChatState::expect();
    let params = state.params;
    let problem = move || params.with(|p| p.check().err().map(|e| e.to_string()));
    let stops_text = move || params.with(|p| p.custom_stopping_strings.join("\n"));
    let fields = NUMERIC_PARAMS
        .iter()
        .map(|entry| {
            view! {
                <NumberField
                    label=entry.name
                    id=format!("param-{}", entry.name)
                    min=entry.lowest()
                    max=entry.max
                    slider_max=entry.slider_max
                    step=entry.step
                    help=entry.help
                    value=Signal::derive(move || params.with(|p| (entry.get)(p)))
                    set=move |v: f64| params.update(|p| (entry.set)(p, v))
                />
            }
        })
        .collect_view();

    view! {
            <div class="panel">
                <h2>"Generation"</h2>
                {move || problem().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <PresetBar />
                <div class="param-grid">
                    {fields}
                </div>
                <div class="checks">
                    {SWITCHES
                        .iter()
                        .map(|switch| {
                            view! {
                                <label title=switch.help>
                                    <input
                                        type="checkbox"
                                        id=format!("param-{}", switch.name)
                                        prop:checked=move || params.with(|p| (switch.get)(p))
                                        on:change=move |ev| params.update(|p| (switch.set)(p, event_target_checked(&ev)))
                                    />
                                    " "
                                    {switch.name}
                                </label>
                            }
                        })
                        .collect_view()}
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
                <label for="param-dry_sequence_breakers">
                    "dry_sequence_breakers (JSON strings separated by commas; DRY's sequences end at these)"
                </label>
                <input
                    id="param-dry_sequence_breakers"
                    type="text"
                    spellcheck="false"
                    prop:value=move || params.with(|p| p.dry_sequence_breakers.clone())
                    on:change=move |ev| {
                        let text = event_target_value(&ev);
                        params.update(|p| p.dry_sequence_breakers = text);
                    }
                />
                <label for="param-sampler_priority">
                    "sampler_priority (one name a line: the order the samplers apply in; penalties and DRY always come first)"
                </label>
                <textarea
                    id="param-sampler_priority"
                    rows="6"
                    spellcheck="false"
                    prop:value=move || params.with(|p| p.sampler_priority.clone())
                    on:change=move |ev| {
                        let text = event_target_value(&ev);
                        params.update(|p| p.sampler_priority = text);
                    }
                ></textarea>
                <button id="reset-params" on:click=move |_| params.set(GenerationParams::default())>
                    "Reset to defaults"
                </button>
            </div>
    }
}

/// A yes/no sampling parameter: its name (the API's and presets'), what
/// it does, and how to read and write it.
struct Switch {
    name: &'static str,
    help: &'static str,
    get: fn(&GenerationParams) -> bool,
    set: fn(&mut GenerationParams, bool),
}

/// The Generation section's switches, in the order shown.
const SWITCHES: &[Switch] = &[
    Switch {
        name: "do_sample",
        help: "Sample from the distribution; off is greedy decoding",
        get: |p| p.do_sample,
        set: |p, on| p.do_sample = on,
    },
    Switch {
        name: "ban_eos_token",
        help: "Keep generating past the end-of-sequence token",
        get: |p| p.ban_eos_token,
        set: |p, on| p.ban_eos_token = on,
    },
    Switch {
        name: "dynamic_temperature",
        help: "Between dynatemp_low and dynatemp_high by how unsure the model is, instead of temperature",
        get: |p| p.dynamic_temperature,
        set: |p, on| p.dynamic_temperature = on,
    },
    Switch {
        name: "temperature_last",
        help: "Apply the temperature after top_p, typical_p and min_p",
        get: |p| p.temperature_last,
        set: |p, on| p.temperature_last = on,
    },
    Switch {
        name: "auto_max_new_tokens",
        help: "A reply may use all the context the prompt leaves, not only max_new_tokens",
        get: |p| p.auto_max_new_tokens,
        set: |p, on| p.auto_max_new_tokens = on,
    },
];

/// One stop string per non-empty line; `\n` written out means a newline.
fn parse_stop_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.replace("\\n", "\n"))
        .collect()
}
