use std::time::Duration;

use leptos::{html::Input, prelude::*, task::spawn_local};

use crate::api::{
    list_downloads, list_model_files, list_repo_files, load_model_file, load_model_panel,
    start_download, unload_model,
};
use crate::state::{ChatState, Tab};
use crate::types::{
    CacheType, DownloadState, DownloadStatus, LoadChoice, ModelFile, ModelPanel, ModelStatus,
    RemoteModelFile, MAX_PARALLEL, MAX_THREADS,
};

fn mib(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1_000_000.0)
}

/// The Model tab: what is loaded (device, context, memory), the GGUF files in
/// the model folder to load or unload, and downloads from Hugging Face.
#[component]
pub fn ModelsPage() -> impl IntoView {
    let state = ChatState::expect();
    let panel = RwSignal::new(None::<ModelPanel>);
    let files = RwSignal::new(Vec::<ModelFile>::new());
    let repo_files = RwSignal::new(Vec::<RemoteModelFile>::new());
    let downloads = RwSignal::new(Vec::<DownloadStatus>::new());
    let repo_box = NodeRef::<Input>::new();
    let active = move || state.tab.get() == Tab::Model;
    // What a load that keeps the server's setting gets (`--parallel`).
    let server_load = move || {
        panel.with(|p| {
            p.as_ref().map_or((1, CacheType::F16), |p| {
                (p.server_parallel.max(1), p.server_cache_type)
            })
        })
    };

    let refresh = move || {
        spawn_local(async move {
            match load_model_panel().await {
                Ok(p) => {
                    let was_loading = panel
                        .with_untracked(|old| old.as_ref().is_some_and(|o| o.loading.is_some()));
                    if was_loading && p.loading.is_none() {
                        state.model_version.update(|v| *v += 1);
                    }
                    panel.set(Some(p));
                }
                Err(e) => state.fail(e),
            }
            if let Ok(list) = list_model_files().await {
                files.set(list);
            }
            if let Ok(list) = list_downloads().await {
                downloads.set(list);
            }
        });
    };
    // Poll while the tab is open: loading and downloads move on their own.
    Effect::new(move |_| {
        if active() {
            refresh();
        }
    });
    // The timer exists only in the browser (effects do not run on the
    // server), and lives as long as the page.
    Effect::new(move |started: Option<()>| {
        if started.is_none() {
            let _ = set_interval_with_handle(
                move || {
                    if state.tab.get_untracked() == Tab::Model {
                        refresh();
                    }
                },
                Duration::from_millis(700),
            );
        }
    });

    // How the next load runs: 0 keeps the server's setting.
    let choice = RwSignal::new(LoadChoice::default());
    // Why the last load was refused, shown here where it was asked for.
    let refusal = RwSignal::new(None::<String>);
    let load = move |name: String| {
        let choice = choice.get_untracked();
        refusal.set(None);
        spawn_local(async move {
            if let Err(e) = load_model_file(name, choice).await {
                refusal.set(Some(e.to_string()));
            }
            refresh();
        });
    };
    let unload = move || {
        spawn_local(async move {
            if let Err(e) = unload_model().await {
                state.fail(e);
            }
            state.model_version.update(|v| *v += 1);
            refresh();
        });
    };
    let list_repo = move || {
        let Some(input) = repo_box.get_untracked() else {
            return;
        };
        let repo = input.value().trim().to_string();
        spawn_local(async move {
            match list_repo_files(repo).await {
                Ok(list) => repo_files.set(list),
                Err(e) => state.fail(e),
            }
        });
    };
    let download = move |file: String| {
        let Some(input) = repo_box.get_untracked() else {
            return;
        };
        let repo = input.value().trim().to_string();
        spawn_local(async move {
            if let Err(e) = start_download(repo, file).await {
                state.fail(e);
            }
            refresh();
        });
    };
    let loaded_file = move || panel.with(|p| p.as_ref().and_then(|p| p.loaded_file.clone()));
    let loading = move || panel.with(|p| p.as_ref().and_then(|p| p.loading.clone()));

    view! {
        <div class="models">
            <div class="panel" id="model-status">
                <h2>"Loaded model"</h2>
                {move || {
                    panel
                        .get()
                        .map(|p| {
                            let summary = match &p.status {
                                ModelStatus::Ready { name, architecture, context_length, device } => {
                                    format!("{name} · {architecture} · {device} · context {context_length} tokens")
                                }
                                ModelStatus::Failed { reason } => format!("No model: {reason}"),
                            };
                            let memory = match (p.rss_mib, p.gpu_mib) {
                                (Some(r), Some(g)) => format!("Memory: {r:.0} MiB RAM, {g:.0} MiB GPU"),
                                (Some(r), None) => format!("Memory: {r:.0} MiB RAM"),
                                _ => String::new(),
                            };
                            view! {
                                <p class="model-summary">{summary}</p>
                                <p class="model-memory">{memory}</p>
                                {p.batching.map(|b| view! {
                                    <p class="model-batching" id="model-batching">
                                        {format!(
                                            "{} replies at once, each up to {} tokens; KV cache up to {:.0} MiB per reply ({:.0} MiB in use). Running: {}, waiting: {}.",
                                            b.slots, b.context_length, b.full_slot_mib, b.cache_mib, b.active, b.waiting
                                        )}
                                        {b.kv_tokens_that_fit.map(|n| format!(" GPU memory holds {n} tokens of KV cache next to the weights."))}
                                        {b.cpu_threads.map(|n| format!(" CPU threads: {n}."))}
                                        {format!(" KV cache type: {}.", b.cache_type)}
                                        {format!(" Speculative decoding: {}.", b.speculative)}
                                    </p>
                                })}
                                {p.remote.map(|url| view! { <p class="notice">{format!("Generation goes to the remote server {url}.")}</p> })}
                                {p.idle_released.then(|| view! { <p class="notice">"Idle: the weights are released; the next request loads them again."</p> })}
                                {p.loading.map(|name| view! { <p class="notice loading">{format!("Loading {name}…")}</p> })}
                                {p.load_note.map(|n| view! { <p class="notice" id="load-note">{n}</p> })}
                                {p.load_error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
                            }
                        })
                }}
                <button id="unload-model" disabled=move || loaded_file().is_none() || loading().is_some() on:click=move |_| unload()>
                    "Unload"
                </button>
            </div>
            <div class="panel">
                <h2>"Models in the folder"</h2>
                <div class="row load-options">
                    {load_option(choice, "load-ctx", "Context (tokens; 0: the model's) ", "", (None, 256), |c| &mut c.ctx_size)}
                    {load_option(choice, "load-parallel", "Parallel replies (0: the server's) ", "", (Some(MAX_PARALLEL), 1), |c| &mut c.parallel)}
                    {load_option(
                        choice,
                        "load-threads",
                        "CPU threads (0: the server's) ",
                        "Threads candlelight's CPU kernels run on; fewer leave cores to other programs",
                        (Some(MAX_THREADS), 1),
                        |c| &mut c.threads,
                    )}
                    {cache_type_option(choice)}
                    {device_option(choice, panel)}
                </div>
                {move || refusal.get().map(|e| view! { <p class="error" id="load-refused" role="alert">{e}</p> })}
                <table class="model-files">
                    <thead><tr><th>"File"</th><th>"Size"</th><th>"Architecture"</th><th title="The weights plus the cache every parallel reply keeps at the chosen context">"Memory to load"</th><th></th></tr></thead>
                    <tbody>
                        <For each=move || files.get() key=|f| (f.name.clone(), f.size_bytes) let:file>
                            {
                                let name = file.name.clone();
                                let for_button = name.clone();
                                let is_loaded = {
                                    let name = name.clone();
                                    Memo::new(move |_| loaded_file().as_deref() == Some(name.as_str()))
                                };
                                view! {
                                    <tr data-model=name.clone() class:loaded=move || is_loaded.get()>
                                        <td>{name.clone()}</td>
                                        <td>{mib(file.size_bytes)}</td>
                                        <td>{file.architecture.clone().unwrap_or_else(|| file.problem.clone().unwrap_or_default())}</td>
                                        <td class="load-estimate">
                                            {
                                                let file = file.clone();
                                                move || choice.with(|c| memory_estimate(&file, c, server_load()))
                                            }
                                        </td>
                                        <td>
                                            <button
                                                class="load-model"
                                                disabled=move || is_loaded.get() || loading().is_some()
                                                on:click=move |_| load(for_button.clone())
                                            >
                                                {move || if is_loaded.get() { "Loaded" } else { "Load" }}
                                            </button>
                                        </td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
            </div>
            <div class="panel">
                <h2>"Download from Hugging Face"</h2>
                <div class="row">
                    <input id="hf-repo" node_ref=repo_box placeholder="owner/repository, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF" size="50" />
                    <button id="hf-list" on:click=move |_| list_repo()>"List GGUF files"</button>
                </div>
                <ul class="repo-files">
                    <For each=move || repo_files.get() key=|f| f.name.clone() let:file>
                        {
                            let name = file.name.clone();
                            view! {
                                <li>
                                    {format!("{} ({})", file.name, mib(file.size_bytes))}
                                    " "
                                    <button class="download-file" on:click=move |_| download(name.clone())>"Download"</button>
                                </li>
                            }
                        }
                    </For>
                </ul>
                <ul class="downloads">
                    <For each=move || downloads.get() key=|d| (d.id, d.bytes, format!("{:?}", d.state)) let:d>
                        <li class="download" data-state=match &d.state { DownloadState::Running => "running", DownloadState::Done => "done", DownloadState::Failed(_) => "failed" }>
                            {format!("{} / {}: ", d.repo, d.file)}
                            <progress max=d.total.unwrap_or(0) as f64 value=d.bytes as f64></progress>
                            {match &d.state {
                                DownloadState::Running => format!(" {} of {}", mib(d.bytes), d.total.map(mib).unwrap_or_else(|| "?".into())),
                                DownloadState::Done => " done, checksum verified".to_string(),
                                DownloadState::Failed(e) => format!(" failed: {e}"),
                            }}
                        </li>
                    </For>
                </ul>
            </div>
        </div>
    }
}

/// What loading `file` will take: its weights plus the cache of every
/// parallel reply at the chosen context (`parallel` 0 and no cache type:
/// the server's).
fn memory_estimate(file: &ModelFile, choice: &LoadChoice, server: (u32, CacheType)) -> String {
    let (server_parallel, server_cache_type) = server;
    let (Some(f16_bytes), Some(trained)) = (file.kv_bytes_per_token, file.context_length) else {
        return String::new();
    };
    let cache_type = choice.cache_type.unwrap_or(server_cache_type);
    let kv = cache_type.bytes_for(f16_bytes as usize / 2) as u64;
    let ctx = match choice.ctx_size {
        0 => trained,
        n => n.min(trained),
    } as u64;
    let parallel = match choice.parallel {
        0 => server_parallel,
        n => n,
    } as u64;
    let cache = kv * ctx * parallel;
    format!(
        "≈ {} ({} weights + {} cache: {parallel} × {ctx} tokens)",
        mib(file.size_bytes + cache),
        mib(file.size_bytes),
        mib(cache)
    )
}

/// The KV cache type a load asks for (none: the server's `--cache-type`).
fn cache_type_option(choice: RwSignal<LoadChoice>) -> impl IntoView {
    let pick = move |ev| {
        let value = event_target_value(&ev);
        choice.update(|c| c.cache_type = value.parse().ok());
    };
    view! {
        <label title="How the KV cache stores keys and values: q8_0 takes about half the memory of f16, at a small cost in precision (candlelight's CPU kernels only)">
            "KV cache "
            <select id="load-cache-type" on:change=pick>
                <option value="" selected=true>"the server's"</option>
                {CacheType::ALL.map(|t| view! { <option value=t.name()>{t.name()}</option> })}
            </select>
        </label>
    }
}

/// The device a load runs on (none: the server's `--device`), from those
/// this build and machine offer.
fn device_option(
    choice: RwSignal<LoadChoice>,
    panel: RwSignal<Option<ModelPanel>>,
) -> impl IntoView {
    let pick = move |ev| {
        let value = event_target_value(&ev);
        choice.update(|c| c.device = (!value.is_empty()).then_some(value));
    };
    let server = move || {
        panel
            .with(|p| {
                p.as_ref()
                    .map(|p| format!("the server's ({})", p.server_device))
            })
            .unwrap_or_else(|| "the server's".into())
    };
    let devices = move || panel.with(|p| p.as_ref().map(|p| p.devices.clone()).unwrap_or_default());
    view! {
        <label title="Where the model runs: the CPU, or a GPU in a CUDA build">
            "Device "
            <select id="load-device" on:change=pick>
                <option value="" selected=true>{server}</option>
                {move || {
                    devices()
                        .into_iter()
                        .map(|d| {
                            let label = d.clone();
                            view! { <option value=d>{label}</option> }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}

/// One of the load options: a number field (0 keeps the server's) with
/// its (maximum, step), editing `field` of the choice.
fn load_option(
    choice: RwSignal<LoadChoice>,
    id: &'static str,
    label: &'static str,
    title: &'static str,
    (max, step): (Option<u32>, u32),
    field: fn(&mut LoadChoice) -> &mut u32,
) -> impl IntoView {
    view! {
        <label title=title>
            {label}
            <input
                id=id
                type="number"
                min="0"
                max=max
                step=step
                prop:value=move || choice.with(|c| field(&mut c.clone()).to_string())
                on:change=move |ev| {
                    let v = event_target_value(&ev).parse().unwrap_or(0);
                    choice.update(|c| *field(c) = v);
                }
            />
        </label>
    }
}
