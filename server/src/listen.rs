//! Serving the router over TCP with the bounds `axum::serve` does not set:
//! a client must finish a request's headers within
//! [`Limits::header_timeout`] (an idle keep-alive connection is closed after
//! as long), and at most [`Limits::max_pending`] connections may be waiting
//! for their first headers at once; more are closed at once. Without these,
//! a few hundred connections that each send half a request hold sockets
//! and memory for as long as they like (slowloris). Built on hyper-util's
//! connection builder, as axum's own "serve with hyper" example does.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo, Router};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

/// How long and how many connections may wait for their headers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_pending: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_pending: 256,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// connections finish (the caller bounds how long the process waits).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let pending = Arc::new(Semaphore::new(limits.max_pending));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "too many connections waiting for their headers; closed");
            continue;
        };
        // Given back when the first request's headers have arrived (or the
        // connection ends before).
        let waiting = Arc::new(Mutex::new(Some(permit)));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            waiting.lock().unwrap_or_else(|e| e.into_inner()).take();
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
