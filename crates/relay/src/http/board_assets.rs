//! `POST /board-assets/{room}` and `GET /board-assets/{room}/{asset}`: the documents and
//! images under the whiteboard (`docs/protocol.md`, "Board assets").

use super::*;

/// `POST /board-assets/{room}`: the teacher uploads a PDF or an image for the board.
/// The token is checked before the body is read, so a stranger cannot make the relay
/// buffer a large file only to refuse it.
pub(super) async fn board_asset_post(
    State(state): State<AppState>,
    Path(room): Path<String>,
    req: Request,
) -> HttpResult<Response> {
    let room = parse_room(&room)?;
    let access = access(&state, req.headers(), &room)?;
    if access.role() != Role::Teacher || !access.grants().board {
        return Err(HttpError::from(AuthError::Forbidden(
            "only the teacher uploads board files",
        )));
    }
    let too_large = || {
        HttpError(ApiError::new(
            ErrorCode::TooLarge,
            format!("files are at most {} bytes", state.max_asset_bytes),
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_asset_bytes as u64) {
        return Err(too_large());
    }
    let claimed = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(AssetType::from_mime)
        .ok_or_else(|| invalid("Content-Type must be application/pdf, image/png or image/jpeg"))?;
    let body = Bytes::from_request(req, &state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                invalid(format!("the upload did not arrive whole: {rejection}"))
            }
        })?;
    match sniff(&body) {
        Some(kind) if kind == claimed => {}
        Some(kind) => {
            return Err(invalid(format!(
                "the file is {}, not {}",
                kind.mime(),
                claimed.mime()
            )));
        }
        None => return Err(invalid(format!("the file is not {}", claimed.mime()))),
    }
    // Hashing 50 MiB takes a while: not on a task the runtime expects back soon.
    let asset = Asset {
        kind: claimed,
        data: body,
    };
    let (id, asset) = tokio::task::spawn_blocking(move || (asset_id(&asset.data), asset))
        .await
        .map_err(|_| HttpError(ApiError::new(ErrorCode::Internal, "hashing failed")))?;
    let stored = ask_hub(&state.hub, |reply| HubCommand::PutAsset {
        room,
        id,
        asset,
        reply,
    })
    .await?
    .map_err(HttpError)?;
    let status = if stored.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(stored)).into_response())
}

/// `GET /board-assets/{room}/{asset}`: any token of the room that may see the board,
/// as `?token=` (for `<img src>`) or as a bearer.
pub(super) async fn board_asset_get(
    State(state): State<AppState>,
    Path((room, asset)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> HttpResult<Response> {
    let room = parse_room(&room)?;
    let token = if q.token.is_empty() {
        bearer(&headers)
    } else {
        q.token.as_str()
    };
    let access = state.signer.access(token, &room, unix_now())?;
    if !access.grants().board {
        return Err(HttpError::from(AuthError::Forbidden("board")));
    }
    let id = AssetRef::new(asset).map_err(|e| invalid(format!("asset: {e}")))?;
    let etag = format!("\"{id}\"");
    let found = ask_hub(&state.hub, |reply| HubCommand::GetAsset { room, id, reply })
        .await?
        .ok_or_else(|| HttpError(ApiError::new(ErrorCode::NotFound, "no such asset")))?;
    let builder = Response::builder()
        .header(header::ETAG, &etag)
        // The name is the content's hash: it never changes. `private`, as the URL may
        // carry a token.
        .header(
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        // Opened directly, the file runs nothing on the relay's origin.
        .header(header::CONTENT_SECURITY_POLICY, "sandbox");
    let revalidating = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let resp = if revalidating {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        builder
            .header(header::CONTENT_TYPE, found.kind.mime())
            .body(Body::from(found.data))
    };
    Ok(resp.expect("static headers are valid"))
}
