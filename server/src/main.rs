use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use clap::Parser;
use engine::{Engine, EngineOptions, LoadOptions};
use server::{
    new_token, parse_users, router, tools, AccessPolicy, ApiConfig, AppState, BackendKind, Cli,
    Command, ModelLibrary, Replies, ServeArgs, ServerConfig, SiteFiles, UserData,
};
use tracing_subscriber::EnvFilter;

/// Errors end the program with their message (and causes), not a backtrace.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,memory_serve=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::TemplateWorker) => Ok(server::sandbox::serve_stdio()?),
        Some(Command::DocumentWorker) => Ok(server::attachments::serve_stdio()?),
        None => serve(cli.serve),
        Some(Command::Bench(args)) => {
            if let Some(threads) = args.threads {
                // Read by candle's thread pool when it starts, which is later.
                std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
            }
            tools::bench::print(&tools::bench::run(&args)?);
            Ok(())
        }
        Some(Command::BenchServe(args)) => {
            tools::bench_serve::print(&tools::bench_serve::run(&args)?);
            Ok(())
        }
        Some(Command::Complete(args)) => {
            println!("{}", serde_json::to_string(&tools::complete::run(&args)?)?);
            Ok(())
        }
        Some(Command::GgufHeader(args)) => {
            let bytes = tools::synth::write_header(&args)?;
            println!("wrote {bytes} header bytes to {}", args.out.display());
            Ok(())
        }
        Some(Command::BenchPrefix(args)) => {
            let r = tools::prefix_bench::run(&args)?;
            println!(
                "{}: turn 1 TTFT {:.0} ms ({} prompt tokens); turn 2 TTFT {:.0} ms ({} prompt tokens, {} reused)",
                r.model, r.first.ttft_ms, r.first.prompt_tokens, r.second.ttft_ms, r.second.prompt_tokens, r.second.cached_tokens
            );
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }
        Some(Command::BenchSpeculative(args)) => {
            tools::speculative_bench::print(&tools::speculative_bench::run(&args)?);
            Ok(())
        }
        Some(Command::BenchSampler(args)) => {
            engine::tools::sampler_bench::print(&engine::tools::sampler_bench::run(&args)?);
            Ok(())
        }
        Some(Command::Quantize(args)) => {
            let n = tools::quantize::run(&args)?;
            println!(
                "wrote {} with {n} weight matrices as {:?}",
                args.out.display(),
                args.to
            );
            Ok(())
        }
        Some(Command::SynthGguf(args)) => {
            let n = tools::synth::synthesize(&args)?;
            println!("wrote {n} random tensors to {}", args.out.display());
            Ok(())
        }
    }
}

fn serve(config: ServeArgs) -> anyhow::Result<()> {
    // Every chat template renders, and every attached document is read,
    // in a worker process with a capped heap.
    let exe = std::env::current_exe().context("finding this program to start its workers")?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    server::sandbox::install(exe.clone(), workers);
    server::attachments::install(exe, workers.min(2));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve_async(config))
}

/// Who may connect: a login with --auth, nobody asked on loopback, a
/// random token otherwise.
fn access_policy(config: &ServeArgs, host: IpAddr) -> anyhow::Result<AccessPolicy> {
    let file = match &config.auth_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading --auth-file {}", path.display()))?,
        ),
        None => None,
    };
    let users = parse_users(&config.auth, file.as_deref()).map_err(anyhow::Error::msg)?;
    Ok(if !users.is_empty() {
        AccessPolicy::Login(users)
    } else if host.is_loopback() {
        AccessPolicy::Open
    } else {
        AccessPolicy::Token(new_token())
    })
}

/// The addresses people can open: every non-loopback interface when
/// listening on all of them.
fn reachable_addresses(host: IpAddr) -> Vec<IpAddr> {
    if !host.is_unspecified() {
        return vec![host];
    }
    let mut found: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| {
            ifs.into_iter()
                .map(|i| i.ip())
                .filter(|ip| !ip.is_loopback() && ip.is_ipv4())
                .collect()
        })
        .unwrap_or_default();
    found.push(IpAddr::from([127, 0, 0, 1]));
    found
}

fn print_links(policy: &AccessPolicy, host: IpAddr, port: u16) {
    let suffix = match policy {
        AccessPolicy::Token(token) => format!("/?token={token}"),
        _ => "/".to_string(),
    };
    println!("candlelight is ready. Open:");
    for ip in reachable_addresses(host) {
        println!("  http://{}{suffix}", SocketAddr::new(ip, port));
    }
    match policy {
        AccessPolicy::Token(_) => println!("The link carries this server's access token: share it only with people who may use it."),
        AccessPolicy::Login(_) => println!("Log in with a user from --auth."),
        AccessPolicy::Open => {}
    }
}

async fn serve_async(config: ServeArgs) -> anyhow::Result<()> {
    let site = match &config.site_root {
        Some(root) => SiteFiles::Folder(root.to_string_lossy().into_owned()),
        None => SiteFiles::default(),
    };
    if let SiteFiles::Folder(root) = &site {
        if !Path::new(root).join("pkg").is_dir() {
            tracing::warn!(site_root = %root, "the web app is not built there, and this binary has none inside; run `make run` (or `make site`)");
        }
    }
    let host = config.listen_host.unwrap_or(if config.listen {
        IpAddr::from([0, 0, 0, 0])
    } else {
        IpAddr::from([127, 0, 0, 1])
    });
    let api_key = match &config.api_key_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading --api-key-file {}", path.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
        ),
        None => config.api_key.clone(),
    };
    let server_config =
        ServerConfig {
            allowed_hosts: config.allowed_host.clone(),
            session_lifetime: Duration::from_secs(config.session_hours.max(1) * 3600),
            api: ApiConfig {
                api_key: api_key.filter(|k| !k.is_empty()),
                cors_origin: match &config.api_cors {
                    Some(origin) => Some(origin.parse().with_context(|| {
                        format!("--api-cors: `{origin}` is not a valid origin")
                    })?),
                    None => None,
                },
            },
            access: access_policy(&config, host)?,
            site,
        };
    let data = UserData::open(&config.user_data_dir).with_context(|| {
        format!(
            "opening the user data folder {}",
            config.user_data_dir.display()
        )
    })?;
    let models = ModelLibrary::new(&config.model_dir, &config.hf_endpoint);

    let state = match config.backend {
        BackendKind::Openai => {
            let url = config
                .backend_url
                .clone()
                .context("--backend openai needs --backend-url")?;
            let state = AppState::remote(&url, config.backend_key.clone(), data, models);
            match state.chat.models().await {
                Ok(models) => {
                    tracing::info!(backend = %url, ?models, "generating with a remote server")
                }
                Err(e) => tracing::warn!(error = %e, "the remote backend does not answer yet"),
            }
            state
        }
        BackendKind::Local => {
            let options = EngineOptions {
                load: LoadOptions {
                    device: config.device,
                    ctx_size: config.ctx_size,
                    parallel: config.parallel,
                    gpu_memory: config.gpu_memory_bytes(),
                    threads: config.threads,
                    cache_type: config.cache_type,
                    ..LoadOptions::default()
                },
                queue_capacity: config.queue_size,
                // A draft model named like --model: a path, or a file in
                // the models folder.
                speculative: match &config.speculative {
                    engine::Speculative::Model(draft) => {
                        engine::Speculative::Model(models.resolve(draft))
                    }
                    other => other.clone(),
                },
            };
            let engine = Arc::new(Engine::new(options, "no model loaded"));
            let path = models.resolve(&config.model);
            let loading = engine.clone();
            // A model that fails to load leaves the server running, saying why.
            let _ = tokio::task::spawn_blocking(move || loading.switch_to(&path)).await;
            if let Some(minutes) = config.idle_timeout {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let idle = Duration::from_secs(minutes * 60);
                    let mut tick = tokio::time::interval(Duration::from_secs(15));
                    loop {
                        tick.tick().await;
                        engine.release_if_idle(idle);
                    }
                });
            }
            AppState::local(engine, data, models)
        }
    };

    // The MCP servers of mcp.json start now, so the first chat that
    // offers their tools does not wait for them.
    let tools = state.tools.clone();
    tokio::spawn(async move { tools.start().await });

    let addr = SocketAddr::new(host, config.listen_port);
    let app = router(state.clone(), &server_config);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    print_links(&server_config.access, host, config.listen_port);
    tracing::info!(%addr, "listening");
    server::listen::serve(
        listener,
        app,
        server::listen::Limits::default(),
        shutdown_signal(state.replies.clone()),
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM. Running replies get a few seconds to
/// finish, then are stopped (and saved); a second signal or a hung client
/// cannot keep the process alive for long.
async fn shutdown_signal(replies: Arc<Replies>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: no new requests; running replies get 5 s to finish");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let stopped = replies.interrupt_all();
        if stopped > 0 {
            tracing::info!(
                stopped,
                "stopped the remaining replies; their text is saved"
            );
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        tracing::warn!("clients did not close their connections; exiting");
        std::process::exit(0);
    });
}
