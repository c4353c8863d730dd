//! The HTTP surface (see `docs/protocol.md`): WHIP, WHEP, signaling upgrade, board
//! assets, the student page, health and metrics.

use crate::auth::{Access, AuthError, TokenSigner, check_name, unix_now};
use crate::hub::{HubCommand, WsOut};
use crate::metrics::Metrics;
use crate::room::{Asset, AssetType, ConnId, MAX_MESSAGE_BYTES, asset_id, sniff};
use crate::sfu::offer::MAX_SDP_BYTES;
use crate::sfu::shell::Command;
use crate::sfu::{SessionAnswer, SessionId, SessionRequest};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lectern_proto::{ApiError, AssetRef, ErrorCode, JoinRequest, PeerId, Role, RoomId};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::sync::{mpsc, oneshot};

mod board_assets;
mod pages;

use board_assets::{board_asset_get, board_asset_post};
use pages::{asset, student_page};

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub signer: TokenSigner,
    pub engine: mpsc::Sender<Command>,
    pub hub: mpsc::Sender<HubCommand>,
    pub metrics: Arc<Metrics>,
    pub next_conn: Arc<AtomicU64>,
    /// Largest board asset upload, in bytes.
    pub max_asset_bytes: usize,
    pub probe: crate::config::ProbeAccess,
    /// Authorizes and joins FLV streams (HTTP-FLV play).
    pub streams: crate::bridge::StreamGate,
}

/// An error answered as `{code, message}` with the matching status.
#[derive(Debug)]
pub(crate) struct HttpError(ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<AuthError> for HttpError {
    fn from(e: AuthError) -> Self {
        Self(ApiError::new(e.code(), e.to_string()))
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized | ErrorCode::TokenExpired => StatusCode::UNAUTHORIZED,
        ErrorCode::WrongRoom | ErrorCode::Forbidden | ErrorCode::NotOnStage => {
            StatusCode::FORBIDDEN
        }
        ErrorCode::NotFound | ErrorCode::DeviceNotFound => StatusCode::NOT_FOUND,
        ErrorCode::StageFull | ErrorCode::Busy => StatusCode::CONFLICT,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedCodec => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Capacity => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::InvalidInput | ErrorCode::BadSdp | ErrorCode::UnsupportedVersion => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.code);
        (status, axum::Json(self.0)).into_response()
    }
}

type HttpResult<T> = Result<T, HttpError>;

fn invalid(message: impl Into<String>) -> HttpError {
    HttpError(ApiError::new(ErrorCode::InvalidInput, message))
}

/// Builds the router.
pub(crate) fn router(state: AppState) -> Router {
    let media = Router::new()
        .route("/whip/{room}", post(whip_post))
        .route(
            "/whip/{room}/{session}",
            axum::routing::patch(session_patch).delete(session_delete),
        )
        .route("/whep/{room}", post(whep_post))
        .route("/join/{room}", post(join_post))
        .route(
            "/whep/{room}/{session}",
            axum::routing::patch(session_patch).delete(session_delete),
        )
        .layer(DefaultBodyLimit::max(MAX_SDP_BYTES))
        .layer(middleware::from_fn(cors));
    // Not under `/assets`: that is the student page's own JavaScript and CSS.
    let board_assets = Router::new()
        .route("/board-assets/{room}", post(board_asset_post))
        .route("/board-assets/{room}/{asset}", get(board_asset_get))
        .layer(DefaultBodyLimit::max(state.max_asset_bytes))
        .layer(middleware::from_fn(asset_cors));
    Router::new()
        .merge(media)
        .merge(board_assets)
        .route("/probe", post(probe_open))
        .route("/probe/{id}/echo", post(probe_echo))
        .route(
            "/probe/{id}/upload",
            post(probe_upload).layer(DefaultBodyLimit::max(PROBE_UPLOAD_MAX)),
        )
        .route(
            "/flv/{room}/{file}",
            get(flv_get).layer(middleware::from_fn(flv_cors)),
        )
        .route("/ws/{room}", get(ws_upgrade))
        .route("/room/{room}", get(student_page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/assets/{*path}", get(asset))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count_errors))
        .with_state(state)
}

async fn not_found() -> HttpError {
    HttpError(ApiError::new(ErrorCode::NotFound, "no such endpoint"))
}

/// Counts error answers by code for `/metrics`.
async fn count_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status().is_client_error() || resp.status().is_server_error() {
        let code = match resp.status() {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::UnsupportedCodec,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Capacity,
            s if s.is_server_error() => ErrorCode::Internal,
            _ => ErrorCode::InvalidInput,
        };
        state.metrics.error(code);
    }
    resp
}

/// Open CORS on the media endpoints: any page may publish or watch with a token.
async fn cors(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut()
            .insert("accept-post", HeaderValue::from_static("application/sdp"));
        r
    } else {
        next.run(req).await
    };
    open_cors(
        resp.headers_mut(),
        "POST, PATCH, DELETE, OPTIONS",
        "authorization, content-type, if-match",
        "location, etag, link, accept-post",
    );
    resp
}

/// Any origin may call, with these methods and request headers, and read these headers.
fn open_cors(h: &mut HeaderMap, methods: &'static str, allow: &'static str, expose: &'static str) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(allow),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(expose),
    );
}

/// Open CORS on board assets: the console (another origin) uploads with its teacher
/// token, and any page of the room reads with a token of its own.
async fn asset_cors(req: Request, next: Next) -> Response {
    let mut resp = preflight_or_run(req, next).await;
    open_cors(
        resp.headers_mut(),
        "GET, HEAD, POST, OPTIONS",
        "authorization, content-type, if-none-match",
        "etag, content-length",
    );
    resp
}

/// Open CORS on HTTP-FLV: a page of any origin (flv.js, a mini-program web view) may
/// play with a token.
async fn flv_cors(req: Request, next: Next) -> Response {
    let mut resp = preflight_or_run(req, next).await;
    open_cors(
        resp.headers_mut(),
        "GET, OPTIONS",
        "authorization",
        "content-type",
    );
    resp
}

/// A preflight (`OPTIONS`) is answered here with 204; anything else goes on.
async fn preflight_or_run(req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    }
}

/// `GET /flv/{room}/{stream}.flv?token=…`: a live stream as HTTP-FLV. The FLV header,
/// then the stream's sequence headers and cached GOP, then live tags, one chunk per
/// tag. The viewer's queue is an RTMP player's ([`crate::stream::VIEWER_QUEUE`]): a
/// reader that falls behind loses audio and delta frames until a keyframe fits, and
/// one that stays behind is cut off (the connection is dropped, not ended cleanly).
/// When the publisher leaves for good the body ends normally.
async fn flv_get(
    State(state): State<AppState>,
    Path((room, file)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> HttpResult<Response> {
    let Some(stream) = file.strip_suffix(".flv") else {
        return Err(HttpError(ApiError::new(
            ErrorCode::NotFound,
            "HTTP-FLV streams end in .flv",
        )));
    };
    let token = if q.token.is_empty() {
        bearer(&headers)
    } else {
        q.token.as_str()
    };
    let viewer = state
        .streams
        .play(&room, stream, token)
        .map_err(|why| HttpError(why.api_error()))?;
    let header = futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(
        crate::flv::FlvMuxer::header(true, true),
    )));
    let tags = futures_util::stream::unfold(Some(viewer), |viewer| async move {
        let mut viewer = viewer?;
        loop {
            match viewer.recv().await {
                Some(tag) => {
                    let mut out = bytes::BytesMut::with_capacity(tag.data.len() + 15);
                    // A tag over FLV's 16 MiB cannot come from RTMP's 8 MiB limit;
                    // skip rather than end the stream if one ever does.
                    if crate::flv::FlvMuxer::tag(&tag, &mut out).is_ok() {
                        return Some((Ok(out.freeze()), Some(viewer)));
                    }
                }
                None if viewer.is_evicted() => {
                    return Some((Err(std::io::Error::other("the viewer fell behind")), None));
                }
                None => return None,
            }
        }
    });
    use futures_util::StreamExt as _;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "video/x-flv")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::from_stream(header.chain(tags)))
        .expect("static headers are valid"))
}

fn parse_room(room: &str) -> HttpResult<RoomId> {
    RoomId::new(room).map_err(|e| invalid(format!("room: {e}")))
}

fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map_or("", str::trim)
}

fn check_sdp_body(headers: &HeaderMap, body: &Bytes) -> HttpResult<String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/sdp") {
        return Err(HttpError(ApiError::new(
            ErrorCode::InvalidInput,
            "Content-Type must be application/sdp",
        )));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| HttpError(ApiError::new(ErrorCode::BadSdp, "the offer is not UTF-8")))
}

async fn ask<T>(
    tx: &mpsc::Sender<Command>,
    make: impl FnOnce(oneshot::Sender<Result<T, ApiError>>) -> Command,
) -> HttpResult<T> {
    let (reply, rx) = oneshot::channel();
    tx.send(make(reply))
        .await
        .map_err(|_| HttpError(ApiError::new(ErrorCode::Internal, "media engine stopped")))?;
    rx.await
        .map_err(|_| HttpError(ApiError::new(ErrorCode::Internal, "media engine stopped")))?
        .map_err(HttpError)
}

fn created(kind: &str, room: &RoomId, answer: SessionAnswer) -> Response {
    let location = format!("/{kind}/{room}/{}", answer.session);
    Response::builder()
        .status(StatusCode::CREATED)
        .header(header::CONTENT_TYPE, "application/sdp")
        .header(header::LOCATION, location)
        .header(header::ETAG, format!("\"{}\"", answer.session))
        .body(Body::from(answer.sdp))
        .expect("static headers are valid")
}

fn access(state: &AppState, headers: &HeaderMap, room: &RoomId) -> HttpResult<Access> {
    Ok(state.signer.access(bearer(headers), room, unix_now())?)
}

fn session_request(access: &Access, room: RoomId, offer: String) -> SessionRequest {
    let c = access.claims();
    SessionRequest {
        room,
        peer: c.sub.clone(),
        name: c.name.clone(),
        role: c.role,
        offer,
    }
}

async fn whip_post(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let room = parse_room(&room)?;
    let access = access(&state, &headers, &room)?;
    let (reply, rx) = oneshot::channel();
    state
        .hub
        .send(HubCommand::MayPublish {
            claims: access.claims().clone(),
            reply,
        })
        .await
        .map_err(|_| HttpError(ApiError::new(ErrorCode::Internal, "signaling stopped")))?;
    if let Err(code) = rx.await.unwrap_or(Err(ErrorCode::Internal)) {
        let message = match code {
            ErrorCode::NotOnStage => "a student publishes only while on stage",
            _ => "this token may not publish",
        };
        return Err(HttpError(ApiError::new(code, message)));
    }
    let offer = check_sdp_body(&headers, &body)?;
    let req = session_request(&access, room.clone(), offer);
    let answer = ask(&state.engine, |reply| Command::Publish { req, reply }).await?;
    Ok(created("whip", &room, answer))
}

/// Longest `POST /join` body: a name of 64 characters fits many times over.
const MAX_JOIN_BYTES: usize = 1024;

/// `POST /join/{room}`: a class link (as the bearer token) and a name in, a personal
/// token out. Stateless: the relay remembers nothing until that token connects.
async fn join_post(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let room = parse_room(&room)?;
    // The link first, so a stranger learns nothing from the body checks.
    state
        .signer
        .page_access(bearer(&headers), &room, unix_now())?;
    if body.len() > MAX_JOIN_BYTES {
        return Err(HttpError(ApiError::new(
            ErrorCode::TooLarge,
            format!("the join request is over {MAX_JOIN_BYTES} bytes"),
        )));
    }
    let req: JoinRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("the body must be JSON {{\"name\": \"…\"}}: {e}")))?;
    let name = check_name(&req.name).map_err(|e| invalid(e.to_string()))?;
    let joined = state
        .signer
        .join(bearer(&headers), &room, &name, unix_now())?;
    Ok((StatusCode::CREATED, axum::Json(joined)).into_response())
}

#[derive(Debug, Deserialize)]
struct WhepQuery {
    peer: Option<String>,
}

async fn whep_post(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(q): Query<WhepQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let room = parse_room(&room)?;
    let access = access(&state, &headers, &room)?;
    access.require_subscribe()?;
    let source = q
        .peer
        .map(PeerId::new)
        .transpose()
        .map_err(|e| invalid(format!("peer: {e}")))?;
    let offer = check_sdp_body(&headers, &body)?;
    let req = session_request(&access, room.clone(), offer);
    let answer = ask(&state.engine, |reply| Command::Subscribe {
        req,
        source,
        reply,
    })
    .await?;
    Ok(created("whep", &room, answer))
}

async fn modify(
    state: &AppState,
    headers: &HeaderMap,
    room: &str,
    session: &str,
    trickle: Option<String>,
) -> HttpResult<()> {
    let room = parse_room(room)?;
    let access = access(state, headers, &room)?;
    let session = SessionId::parse(session)
        .ok_or_else(|| HttpError(ApiError::new(ErrorCode::NotFound, "no such session")))?;
    let by = access.peer().clone();
    let teacher = access.role() == Role::Teacher;
    ask(&state.engine, |reply| Command::Modify {
        room,
        session,
        by,
        teacher,
        trickle,
        reply,
    })
    .await
}

async fn session_patch(
    State(state): State<AppState>,
    Path((room, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/trickle-ice-sdpfrag") {
        return Err(invalid(
            "Content-Type must be application/trickle-ice-sdpfrag",
        ));
    }
    let frag = String::from_utf8(body.to_vec())
        .map_err(|_| HttpError(ApiError::new(ErrorCode::BadSdp, "not UTF-8")))?;
    modify(&state, &headers, &room, &session, Some(frag)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn session_delete(
    State(state): State<AppState>,
    Path((room, session)): Path<(String, String)>,
    headers: HeaderMap,
) -> HttpResult<StatusCode> {
    modify(&state, &headers, &room, &session, None).await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn ws_upgrade(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(q): Query<TokenQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> HttpResult<Response> {
    // The token first: a page whose socket was refused asks with a plain GET why.
    let room = parse_room(&room)?;
    let access = state.signer.access(&q.token, &room, unix_now())?;
    access.require_subscribe()?;
    let claims = access.claims().clone();
    let ws = ws.map_err(|e| invalid(format!("not a WebSocket upgrade: {e}")))?;
    Ok(ws
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_ws(state, claims, socket)))
}

async fn serve_ws(state: AppState, claims: lectern_proto::TokenClaims, mut socket: WebSocket) {
    let conn = ConnId(state.next_conn.fetch_add(1, Relaxed));
    let (tx, mut rx) = mpsc::channel(crate::hub::CONN_QUEUE);
    if state
        .hub
        .send(HubCommand::Connect {
            conn,
            claims,
            out: tx,
        })
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(WsOut::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsOut::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if state.hub.send(HubCommand::Text { conn, text: text.to_string() }).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let text = "\u{0}binary frames are not part of the protocol".to_string();
                    if state.hub.send(HubCommand::Text { conn, text }).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {} // ping/pong are answered by the library
            }
        }
    }
    let _ = state.hub.send(HubCommand::Disconnect { conn }).await;
}

async fn ask_hub<T>(
    hub: &mpsc::Sender<HubCommand>,
    make: impl FnOnce(oneshot::Sender<T>) -> HubCommand,
) -> HttpResult<T> {
    let stopped = || HttpError(ApiError::new(ErrorCode::Internal, "signaling stopped"));
    let (reply, rx) = oneshot::channel();
    hub.send(make(reply)).await.map_err(|_| stopped())?;
    rx.await.map_err(|_| stopped())
}

/// Largest body the TCP fallback's upload measurement may send.
pub(crate) const PROBE_UPLOAD_MAX: usize = 4 * 1024 * 1024;

/// `POST /probe`: a probe id for the media port (see `docs/protocol.md`).
async fn probe_open(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> HttpResult<axum::Json<lectern_proto::probe::ProbeGrant>> {
    use crate::config::ProbeAccess;
    match state.probe {
        ProbeAccess::Off => return Err(not_found().await),
        ProbeAccess::Token => {
            state.signer.verify(bearer(&headers), unix_now())?;
        }
        ProbeAccess::Open => {}
    }
    let grant = ask(&state.engine, |reply| Command::OpenProbe { reply }).await?;
    Ok(axum::Json(grant))
}

/// Checks that `id` names a live probe.
async fn live_probe(state: &AppState, id: &str) -> HttpResult<()> {
    let unknown = || HttpError(ApiError::new(ErrorCode::NotFound, "no such probe"));
    let id = lectern_proto::probe::ProbeId::parse(id).ok_or_else(unknown)?;
    let (reply, rx) = oneshot::channel();
    state
        .engine
        .send(Command::ProbeLive { id, reply })
        .await
        .map_err(|_| HttpError(ApiError::new(ErrorCode::Internal, "media engine stopped")))?;
    if rx.await.unwrap_or(false) {
        Ok(())
    } else {
        Err(unknown())
    }
}

/// `POST /probe/{id}/echo`: the TCP fallback's round trip.
async fn probe_echo(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> HttpResult<StatusCode> {
    live_probe(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /probe/{id}/upload`: the TCP fallback's upload; answers the bytes received.
async fn probe_upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    live_probe(&state, &id).await?;
    let bytes = axum::body::to_bytes(body, PROBE_UPLOAD_MAX)
        .await
        .map_err(|_| {
            HttpError(ApiError::new(
                ErrorCode::TooLarge,
                "the upload is larger than the probe allows",
            ))
        })?;
    Ok(axum::Json(serde_json::json!({ "bytes": bytes.len() })).into_response())
}

async fn healthz(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    axum::Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "rooms": m.rooms.load(Relaxed),
        "peers": m.publishers.load(Relaxed) + m.subscribers.load(Relaxed),
    }))
    .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
