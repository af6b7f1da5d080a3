use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use clap::Parser;
use server::{
    chat::ChatEngine,
    config::{Cli, Command, Config},
    engine::Engine,
    leptos_options,
    openai::ApiConfig,
    router,
    store::UserData,
    tools, AppState,
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
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Bench(args)) => {
            if let Some(threads) = args.threads {
                // Read by candle's thread pool when it starts, which is later.
                std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
            }
            tools::bench::print(&tools::bench::run(&args)?);
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
        Some(Command::SynthGguf(args)) => {
            let n = tools::synth::synthesize(&args)?;
            println!("wrote {n} random tensors to {}", args.out.display());
            Ok(())
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve_async(config))
}

async fn serve_async(config: Config) -> anyhow::Result<()> {
    let site_root = config.site_root.to_string_lossy().into_owned();
    if !config.site_root.join("pkg").is_dir() {
        tracing::warn!(site_root = %site_root, "the web app is not built here; run `make run` (or `cargo leptos build --release`)");
    }

    let api = ApiConfig {
        api_key: config.api_key.clone().filter(|k| !k.is_empty()),
        cors_origin: match &config.api_cors {
            Some(origin) => Some(
                origin
                    .parse()
                    .with_context(|| format!("--api-cors: `{origin}` is not a valid origin"))?,
            ),
            None => None,
        },
    };
    let data = UserData::open(&config.user_data_dir).with_context(|| {
        format!(
            "opening the user data folder {}",
            config.user_data_dir.display()
        )
    })?;

    let (model, device, queue) = (config.model.clone(), config.device, config.queue_size);
    let engine = tokio::task::spawn_blocking(move || Engine::load(&model, device, queue))
        .await
        .context("loading the model")?;

    let addr = SocketAddr::new(config.listen_host, config.listen_port);
    let state = AppState {
        chat: Arc::new(ChatEngine::new(Arc::new(engine))),
        data: Arc::new(data),
    };
    let app = router(leptos_options(&site_root), state, &api);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let shown = if addr.ip().is_unspecified() {
        SocketAddr::new([127, 0, 0, 1].into(), addr.port())
    } else {
        addr
    };
    tracing::info!("candlelight is ready: open http://{shown}/");
    println!("candlelight is ready: open http://{shown}/");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
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
    tracing::info!("shutting down");
}
