//! The HTTP listener: `/metrics`, `/healthz`, `/readyz`, `/status` and `POST /reload`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{OnceCell, watch};

use crate::metrics::Metrics;
use crate::publish::Handle;

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    /// Set once zones are loaded, first verdicts are in and DNS sockets are bound.
    pub ready: Arc<AtomicBool>,
    /// The publisher, once started.
    pub publisher: Arc<OnceCell<Handle>>,
}

pub async fn serve(listener: TcpListener, state: HttpState, mut stop: watch::Receiver<bool>) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/reload", post(reload))
        .with_state(state);
    let shutdown = async move {
        let _ = stop.wait_for(|&s| s).await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(error = %e, "HTTP listener failed");
    }
}

async fn metrics(State(state): State<HttpState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}

async fn readyz(State(state): State<HttpState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting: waiting for zones, first health verdicts and DNS sockets\n")
            .into_response()
    }
}

async fn status(State(state): State<HttpState>) -> Response {
    match state.publisher.get() {
        Some(handle) => Json(handle.status().await).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "starting"}))).into_response(),
    }
}

async fn reload(State(state): State<HttpState>) -> Response {
    let Some(handle) = state.publisher.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ok": false, "errors": ["starting"]}))).into_response();
    };
    match handle.reload().await {
        Ok(message) => Json(json!({"ok": true, "message": message})).into_response(),
        Err(problems) => {
            let errors: Vec<String> = problems.iter().map(ToString::to_string).collect();
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"ok": false, "errors": errors}))).into_response()
        }
    }
}
