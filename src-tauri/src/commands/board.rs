//! Office documents for the whiteboard: the Class page hands over a PowerPoint, Word or
//! OpenDocument file; LibreOffice (found at run time, `lectern_convert`) turns it into a
//! PDF, which the page imports like any PDF. Without LibreOffice the answer is a
//! `not_found` error the page turns into "install LibreOffice".

use base64::Engine as _;
use lectern_convert::{ConvertError, Converter, SUPPORTED};
use lectern_proto::{ApiError, ErrorCode};

/// Largest document accepted (the relay keeps PDFs up to 50 MiB; slides with pictures
/// shrink when converted).
pub const MAX_DOCUMENT_BYTES: usize = 100 << 20;

fn api_error(e: &ConvertError) -> ApiError {
    let code = match e {
        ConvertError::NotInstalled => ErrorCode::NotFound,
        ConvertError::Unsupported(_) | ConvertError::NoOutput => ErrorCode::InvalidInput,
        ConvertError::Timeout(_) => ErrorCode::Busy,
        _ => ErrorCode::Internal,
    };
    ApiError::new(code, e.to_string())
}

/// Converts one document, given as its file name and bytes, into PDF bytes. Blocking:
/// LibreOffice runs for seconds.
pub fn convert(converter: &Converter, name: &str, bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| SUPPORTED.contains(&e.as_str()))
        .ok_or_else(|| api_error(&ConvertError::Unsupported(name.to_owned())))?;
    let work = tempfile::Builder::new()
        .prefix("lectern-convert-")
        .tempdir()
        .map_err(|e| ApiError::new(ErrorCode::Io, e.to_string()))?;
    // A fixed name inside our own directory: the user's file name never reaches a path.
    let input = work.path().join(format!("document.{ext}"));
    std::fs::write(&input, bytes).map_err(|e| ApiError::new(ErrorCode::Io, e.to_string()))?;
    let pdf = converter
        .to_pdf(&input, work.path())
        .map_err(|e| api_error(&e))?;
    std::fs::read(&pdf).map_err(|e| ApiError::new(ErrorCode::Io, e.to_string()))
}

/// Converts an office document (`name` for its type, `data` base64) to a PDF, returned
/// base64. Errors: `not_found` (LibreOffice is not installed), `invalid_input` (a type
/// we do not convert, or a document LibreOffice could not read), `busy` (it took too
/// long), `too_large`.
#[tauri::command]
#[specta::specta]
pub async fn board_convert(name: String, data: String) -> Result<String, ApiError> {
    if data.len() > MAX_DOCUMENT_BYTES / 3 * 4 + 4 {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            "documents up to 100 MB are imported",
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = b64
        .decode(data.as_bytes())
        .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("not base64: {e}")))?;
    let converter = Converter::find().map_err(|e| api_error(&e))?;
    tracing::info!(program = %converter.program().display(), %name, bytes = bytes.len(), "converting a document for the board");
    let pdf = tauri::async_runtime::spawn_blocking(move || convert(&converter, &name, &bytes))
        .await
        .map_err(super::internal)??;
    Ok(b64.encode(pdf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_types_and_a_missing_libreoffice_are_clear_errors() {
        let missing = Converter::with_program("/nonexistent/soffice");
        let e = convert(&missing, "notes.txt", b"hello").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let e = convert(&missing, "slides.pptx", b"PK\x03\x04").unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound, "{e:?}");
        assert!(e.message.contains("LibreOffice"), "{e:?}");
    }
}
