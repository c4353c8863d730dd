//! The pages the relay serves from the built UI (`ui/dist`, embedded at build time): the
//! student page at `/room/{room}` and its assets.

use super::*;

#[derive(rust_embed::Embed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Ui;

fn embedded(path: &str) -> Option<Response> {
    let file = Ui::get(path)?;
    let mime = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        // `.mjs`: pdf.js's worker, which browsers load as a module only with a JS type.
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        // pdf.js's image decoders: streaming compilation needs this type.
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Some(
        Response::builder()
            .header(header::CONTENT_TYPE, mime)
            .header(header::CACHE_CONTROL, cache)
            .body(Body::from(file.data.into_owned()))
            .expect("static headers are valid"),
    )
}

pub(super) async fn asset(Path(path): Path<String>) -> HttpResult<Response> {
    embedded(&format!("assets/{path}"))
        .ok_or_else(|| HttpError(ApiError::new(ErrorCode::NotFound, "no such asset")))
}

pub(super) async fn student_page(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    // The page itself explains a missing or bad token in the student's language; the
    // status says it too, for anything that is not a browser.
    let status = match RoomId::new(&room) {
        Err(_) => StatusCode::BAD_REQUEST,
        Ok(room) => match state.signer.page_access(&q.token, &room, unix_now()) {
            Ok(_) => StatusCode::OK,
            Err(_) => StatusCode::UNAUTHORIZED,
        },
    };
    match embedded("student.html") {
        Some(mut page) => {
            *page.status_mut() = status;
            page
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the student page was not built into this relay (run `cargo xtask run` or `npm run build` in ui/ first)",
        )
            .into_response(),
    }
}
