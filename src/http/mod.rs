//! The HTTP listener: `/` (status page), `/metrics`, `/healthz`, `/readyz`, `/status`,
//! `/explain`, the peers' `/fleet/exchange` (signed with the fleet's secret), and the mutating `POST /reload`, `POST /pools/{pool}` and
//! `POST /endpoints/{pool}/{endpoint}`, which only an authorised caller may use.

mod page;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{OnceCell, watch};

use crate::control::{Applied, ExplainRequest, Handle, OverrideRequest, Refusal};
use crate::fleet::exchange::{Askers, Refused};
use crate::metrics::Metrics;
use crate::model::RecordType;
use crate::overrides::Forced;

/// Largest request body accepted (override requests are a few hundred bytes).
const MAX_BODY: usize = 16 * 1024;

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    /// Set once zones are loaded, first verdicts are in and DNS sockets are bound.
    pub ready: Arc<AtomicBool>,
    /// The control task, once started.
    pub control: Arc<OnceCell<Handle>>,
    pub admin: Admin,
    /// Who may ask for this node's verdicts (`GET /fleet/exchange`), in a fleet.
    pub peers: Option<Arc<Askers>>,
}

/// Who may use the mutating endpoints: with a token configured, only requests carrying it
/// (`Authorization: Bearer TOKEN`); without one, anyone who can reach a loopback-only
/// listener, and nobody on any other listener.
#[derive(Clone)]
pub struct Admin {
    pub token: Option<Arc<str>>,
    pub loopback_only: bool,
}

pub async fn serve(listener: TcpListener, state: HttpState, mut stop: watch::Receiver<bool>) {
    let mutating = Router::new()
        .route("/reload", post(reload))
        .route("/pools/{pool}", post(pool_override))
        .route("/endpoints/{pool}/{endpoint}", post(endpoint_override))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorise));
    let app = Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/explain", get(explain))
        .route("/fleet/exchange", get(exchange))
        .merge(mutating)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    let shutdown = async move {
        let _ = stop.wait_for(|&s| s).await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(error = %e, "HTTP listener failed");
    }
}

async fn authorise(State(state): State<HttpState>, headers: HeaderMap, request: Request, next: Next) -> Response {
    let presented =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let refusal = match (&state.admin.token, presented) {
        (Some(token), Some(presented)) if same_secret(token.as_bytes(), presented.trim().as_bytes()) => None,
        (Some(_), _) => Some((StatusCode::UNAUTHORIZED, "a valid `Authorization: Bearer TOKEN` header is required")),
        (None, _) if state.admin.loopback_only => None,
        (None, _) => Some((
            StatusCode::FORBIDDEN,
            "this listener is not loopback-only and no admin_token_file is configured: changes are refused",
        )),
    };
    match refusal {
        None => next.run(request).await,
        Some((status, message)) => {
            tracing::warn!(path = %request.uri().path(), status = status.as_u16(), "admin request refused");
            (status, Json(json!({"ok": false, "errors": [message]}))).into_response()
        }
    }
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The answer while the control task is not running yet.
fn starting() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ok": false, "errors": ["starting"]}))).into_response()
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
    let Some(handle) = state.control.get() else { return starting() };
    Json(handle.status()).into_response()
}

/// A peer asks for this node's votes, overrides and digests.
async fn exchange(State(state): State<HttpState>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let refused = |status: StatusCode, message: String| {
        tracing::warn!(status = status.as_u16(), reason = %message, "peer request refused");
        (status, Json(json!({"ok": false, "errors": [message]}))).into_response()
    };
    let Some(askers) = &state.peers else {
        return refused(StatusCode::NOT_FOUND, "this node has no peers (no `peers:` in its config)".into());
    };
    let Some(export) = state.control.get().and_then(Handle::exchange) else { return starting() };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    match crate::fleet::exchange::answer(askers, &export, header, path) {
        Ok((body, signature)) => {
            let headers = [(header::CONTENT_TYPE, "application/json".to_string())];
            (headers, [(crate::fleet::auth::SIGNATURE, signature)], body).into_response()
        }
        Err(Refused::Unauthorised(why)) => refused(StatusCode::UNAUTHORIZED, why),
        Err(Refused::Forbidden(why)) => refused(StatusCode::FORBIDDEN, why),
        Err(Refused::Invalid(why)) => refused(StatusCode::BAD_REQUEST, why),
    }
}

async fn page(State(state): State<HttpState>) -> Response {
    let Some(handle) = state.control.get() else { return starting() };
    Html(page::render(&handle.status())).into_response()
}

async fn reload(State(state): State<HttpState>) -> Response {
    let Some(handle) = state.control.get() else { return starting() };
    match handle.reload().await {
        Ok(message) => Json(json!({"ok": true, "message": message})).into_response(),
        Err(problems) => {
            let errors: Vec<String> = problems.iter().map(ToString::to_string).collect();
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"ok": false, "errors": errors}))).into_response()
        }
    }
}

#[derive(Deserialize)]
struct ZoneParam {
    zone: Option<String>,
}

/// `{"state": "up" | "down" | "auto", "reason": "...", "for": "2h"}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    state: String,
    #[serde(default)]
    reason: String,
    #[serde(rename = "for")]
    duration: Option<String>,
}

async fn pool_override(
    State(state): State<HttpState>,
    Path(pool): Path<String>,
    Query(zone): Query<ZoneParam>,
    body: axum::body::Bytes,
) -> Response {
    set_override(&state, zone.zone, pool, None, &body).await
}

async fn endpoint_override(
    State(state): State<HttpState>,
    Path((pool, endpoint)): Path<(String, String)>,
    Query(zone): Query<ZoneParam>,
    body: axum::body::Bytes,
) -> Response {
    set_override(&state, zone.zone, pool, Some(endpoint), &body).await
}

async fn set_override(
    state: &HttpState,
    zone: Option<String>,
    pool: String,
    endpoint: Option<String>,
    body: &[u8],
) -> Response {
    let Some(handle) = state.control.get() else { return starting() };
    let invalid =
        |message: String| (StatusCode::BAD_REQUEST, Json(json!({"ok": false, "errors": [message]}))).into_response();
    let body: OverrideBody = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(e) => {
            return invalid(format!(
                "expected {{\"state\": \"up|down|auto\", \"reason\": \"...\", \"for\": \"2h\"}}: {e}"
            ));
        }
    };
    let forced = match body.state.as_str() {
        "up" => Some(Forced::Up),
        "down" => Some(Forced::Down),
        "auto" => None,
        other => return invalid(format!("state must be up, down or auto, not {other:?}")),
    };
    let duration = match body.duration.as_deref().map(humantime::parse_duration).transpose() {
        Ok(d) => d.filter(|d: &Duration| !d.is_zero()),
        Err(e) => return invalid(format!("for: {e} (e.g. \"30m\", \"2h\")")),
    };
    let request = OverrideRequest { zone, pool, endpoint, state: forced, reason: body.reason, duration };
    match handle.set_override(request).await {
        Ok(applied) => {
            let nodes = match &state.peers {
                Some(peers) => Some(applied_on(handle, &applied, peers.interval).await),
                None => None,
            };
            Json(json!({"ok": true, "applied": applied, "nodes": nodes})).into_response()
        }
        Err(refusal) => refusal_response(refusal),
    }
}

/// Waits (at most three exchange intervals, never blocking the control task) for the peers
/// heard from to hold the override as it was just set or cleared; then says, per node,
/// `applied`, `pending` or `unreachable`.
async fn applied_on(
    handle: &Handle,
    applied: &Applied,
    interval: Duration,
) -> serde_json::Map<String, serde_json::Value> {
    let deadline = tokio::time::Instant::now() + interval * 3;
    loop {
        let status = handle.status();
        let Some(fleet) = status.fleet else { return Default::default() };
        let holds = |overrides: &[crate::status::OverrideEntry]| {
            let theirs = overrides.iter().find(|o| o.subject == applied.subject).map(|o| &o.forced);
            match &applied.forced {
                Some(ours) => theirs.is_some_and(|o| o.stamp() == ours.stamp()),
                None => theirs.is_none(),
            }
        };
        let mut nodes = serde_json::Map::new();
        nodes.insert(fleet.node.clone(), "applied".into());
        for peer in &fleet.peers {
            let word = match (peer.up, holds(&peer.overrides)) {
                (false, _) => "unreachable",
                (true, true) => "applied",
                (true, false) => "pending",
            };
            nodes.insert(peer.node.clone(), word.into());
        }
        if !nodes.values().any(|v| v == "pending") || tokio::time::Instant::now() >= deadline {
            return nodes;
        }
        tokio::time::sleep(interval / 4).await;
    }
}

fn refusal_response(refusal: Refusal) -> Response {
    let (status, message) = match refusal {
        Refusal::NotFound(m) => (StatusCode::NOT_FOUND, m),
        Refusal::Invalid(m) => (StatusCode::BAD_REQUEST, m),
    };
    (status, Json(json!({"ok": false, "errors": [message]}))).into_response()
}

#[derive(Deserialize)]
struct ExplainParams {
    name: String,
    #[serde(rename = "type", default = "default_type")]
    rtype: String,
    /// Comma-separated pools, endpoints or `pool/endpoint`s.
    #[serde(default)]
    assume_down: String,
}

fn default_type() -> String {
    "A".into()
}

async fn explain(State(state): State<HttpState>, Query(params): Query<ExplainParams>) -> Response {
    let Some(handle) = state.control.get() else { return starting() };
    let Ok(rtype) = params.rtype.to_ascii_uppercase().parse::<RecordType>() else {
        return refusal_response(Refusal::Invalid(format!("unknown record type {:?}", params.rtype)));
    };
    let assume_down =
        params.assume_down.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    match handle.explain(ExplainRequest { name: params.name, rtype, assume_down }).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(refusal) => refusal_response(refusal),
    }
}
