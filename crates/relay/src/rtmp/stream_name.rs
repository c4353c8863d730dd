//! Reading what an RTMP publish or play asks for from its `app` and stream name.
//!
//! The URL `rtmp://host:1935/{room}/{stream}?token=T` reaches the server as the `app`
//! of `connect` and the name of `publish`/`play`. ffmpeg keeps the query on the stream
//! name (`teacher?token=T`); other clients (some `live-pusher` builds, OBS with the query
//! typed into the server field) put it on the app (`room1?token=T`). Both are read; when
//! both carry a token, the stream name's wins.

use crate::auth::MAX_TOKEN_LEN;

/// Longest room or stream name we accept (they become room ids and track names).
const MAX_NAME_LEN: usize = 64;

/// What a publish or play asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// The room: the first path segment of the URL (RTMP's "app").
    pub room: String,
    /// The stream within the room: the second path segment (RTMP's stream name).
    pub stream: String,
    /// `token` from the query of the stream name or of the app.
    pub token: Option<String>,
}

/// Splits `name?query` and finds `token=` in the query.
fn split_query(s: &str) -> (&str, Option<String>) {
    match s.split_once('?') {
        None => (s, None),
        Some((name, query)) => {
            let token = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(percent_decode);
            (name, token)
        }
    }
}

/// Decodes `%XX` escapes (a token is base64url and rarely has any; `+` stays `+`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && s != "."
        && s != ".."
}

/// Reads `{room}[?token=…]` (the app) and `{stream}[?token=…]` (the stream name) into
/// a request; `None` when a name is malformed. The app may also carry a trailing `/`
/// and, from some clients, the full `room/stream` path with an empty stream name.
pub fn parse_stream_name(app: &str, stream_name: &str) -> Option<StreamRequest> {
    let (app_path, app_token) = split_query(app);
    let (mut stream, stream_token) = split_query(stream_name);
    let mut room = app_path.trim_end_matches('/');
    // `rtmp://host/room/stream` is normally app `room`, name `stream`; a client that puts
    // the whole path into the app sends an empty name.
    if stream.is_empty()
        && let Some((r, s)) = room.split_once('/')
    {
        room = r;
        stream = s;
    }
    if !valid_name(room) || !valid_name(stream) {
        return None;
    }
    let token = stream_token.or(app_token);
    if token.as_ref().is_some_and(|t| t.len() > MAX_TOKEN_LEN) {
        return None;
    }
    Some(StreamRequest {
        room: room.to_owned(),
        stream: stream.to_owned(),
        token,
    })
}
