//! Wire and IPC types shared by every Lectern crate.
//!
//! Everything here is plain data with serde derives. The JSON shapes are part of the
//! public contract (IPC with the UI, exported self-check reports, later the relay
//! protocol), so fields are only ever added, and enums serialize to stable strings.
//! With the `specta` feature the types also describe themselves to tauri-specta,
//! which generates the UI's TypeScript bindings.

mod board;
mod class;
mod devices;
mod error;
mod ids;
pub mod probe;
mod relay;
mod selfcheck;
mod settings;
mod signal;
mod token;

pub use board::{
    AssetRef, Background, BoardAction, BoardEphemeral, BoardIdError, BoardOp, Color, DOC_VERSION,
    GrantScope, MAX_BOARD_ID_LEN, OpId, PAGE_HEIGHT, PAGE_WIDTH, Page, PageId, Point, PointRange,
    Pos, Rect, Shape, ShapeId, ShapeKind, Style, Transform,
};
pub use class::{
    ClassEvent, ClassInfo, PublishState, PublishStats, PublishStatus, SeatState, StageSeat,
};
pub use devices::{DeviceInfo, DeviceKind, DeviceList, DeviceSelection, MeterLevel, VideoMode};
pub use error::{ApiError, ErrorCode};
pub use ids::{IdError, MAX_ID_LEN, PeerId, RoomId};
pub use relay::{RelayState, RelayStatus};
pub use selfcheck::{
    Area, CameraStats, EncodeSpeed, EncoderStats, Finding, FindingCode, MicStats, NetworkStats,
    NetworkTransport, ParamValue, PublishResolution, ReportSummary, SelfCheckProgress,
    SelfCheckReport, Severity, SpeakerMethod, SpeakerStats, Stage, Verdict, sort_findings,
};
pub use settings::{Language, RelaySettings, Settings};
pub use signal::*;
pub use token::{Grants, JoinRequest, JoinResponse, MAX_NAME_CHARS, Role, TokenClaims};
