//! Tauri commands, one file per area. Each only translates between IPC and the crates.

pub mod board;
pub mod class;
pub mod devices;
pub mod files;
pub mod preview;
pub mod relay;
pub mod selfcheck;
pub mod settings;
pub mod stage;

use lectern_media::CaptureError;
use lectern_proto::{ApiError, ErrorCode};
use lectern_record::StoreError;

pub(crate) fn store_error(e: StoreError) -> ApiError {
    let code = match e {
        StoreError::NotFound(_) => ErrorCode::NotFound,
        _ => ErrorCode::Storage,
    };
    ApiError::new(code, e.to_string())
}

pub(crate) fn capture_error(e: CaptureError) -> ApiError {
    let code = match e {
        CaptureError::NotFound(_) => ErrorCode::DeviceNotFound,
        _ => ErrorCode::DeviceUnavailable,
    };
    ApiError::new(code, e.to_string())
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, e.to_string())
}
