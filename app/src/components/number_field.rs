use leptos::prelude::*;

/// A labelled number input with a slider, committing on change. Text that is
/// not a number is refused on the spot and the last good value stays. The
/// slider may stop short of `max` (`slider_max`); the box takes the rest.
#[component]
pub fn NumberField(
    label: &'static str,
    /// Element id, also used by tests.
    #[prop(into)]
    id: String,
    min: f64,
    max: f64,
    slider_max: f64,
    step: f64,
    #[prop(into)] value: Signal<f64>,
    set: impl Fn(f64) + Copy + Send + Sync + 'static,
    #[prop(optional)] help: &'static str,
) -> impl IntoView {
    let invalid = RwSignal::new(false);
    let commit = move |raw: String| match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => {
            invalid.set(false);
            set(v);
        }
        _ => invalid.set(true),
    };
    view! {
        <div class="field" title=help>
            <label for=id.clone()>{label}</label>
            <input
                type="range"
                min=min
                max=slider_max
                step=step
                prop:value=move || show(value.get())
                on:input=move |ev| commit(event_target_value(&ev))
            />
            <input
                type="number"
                id=id
                class:invalid=move || invalid.get()
                min=min
                max=max
                step=step
                prop:value=move || show(value.get())
                on:change=move |ev| commit(event_target_value(&ev))
            />
        </div>
    }
}

/// Sampler values are f32: shown rounded, so 0.7 is not "0.699999988".
fn show(value: f64) -> String {
    let rounded = (value * 1e6).round() / 1e6;
    format!("{rounded}")
}
