//! Board assets: the files (PDFs, images) a room's pages show as backgrounds.
//!
//! An asset is named by the SHA-256 of its bytes ([`asset_id`]), so the same file
//! uploaded twice is stored once and a name never changes meaning: clients may cache it
//! forever. Assets live in memory with the room's board and go when the room goes, as
//! the board does; nothing is written to disk.
//!
//! What a file is comes from its first bytes ([`sniff`]), never from what the uploader
//! says alone: a `Content-Type` that disagrees with the bytes is refused.

use bytes::Bytes;
use lectern_proto::{ApiError, AssetRef, ErrorCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// What kinds of file a board shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetType {
    Pdf,
    Png,
    Jpeg,
}

impl AssetType {
    /// The media type, as uploaded and served.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    /// The type a `Content-Type` header names, parameters ignored.
    pub fn from_mime(header: &str) -> Option<Self> {
        let essence = header.split(';').next().unwrap_or("").trim();
        [Self::Pdf, Self::Png, Self::Jpeg]
            .into_iter()
            .find(|t| t.mime().eq_ignore_ascii_case(essence))
    }
}

/// How far into a PDF its `%PDF-` header may start: readers accept leading junk within
/// the first KiB (ISO 32000-2, annex H, notes this for compatibility).
const PDF_HEADER_WINDOW: usize = 1024;

/// What `bytes` are, by their signature.
pub fn sniff(bytes: &[u8]) -> Option<AssetType> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(AssetType::Png);
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some(AssetType::Jpeg);
    }
    let head = &bytes[..bytes.len().min(PDF_HEADER_WINDOW)];
    head.windows(5)
        .any(|w| w == b"%PDF-")
        .then_some(AssetType::Pdf)
}

/// The name of an asset with these bytes: `sha256-` and the digest in lowercase hex.
pub fn asset_id(bytes: &[u8]) -> AssetRef {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    AssetRef::new(format!("sha256-{hex}")).expect("71 characters of the id alphabet")
}

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub kind: AssetType,
    /// Shared, not copied, with every response that serves it.
    pub data: Bytes,
}

/// How much the relay keeps, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetLimits {
    /// Largest single file.
    pub file: usize,
    /// Most bytes one room holds.
    pub room: usize,
    /// Most bytes all rooms hold together: what bounds the relay's memory.
    pub total: usize,
}

impl Default for AssetLimits {
    fn default() -> Self {
        Self {
            file: 50 << 20,
            room: 200 << 20,
            total: 1 << 30,
        }
    }
}

/// What a stored upload answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stored {
    pub asset: AssetRef,
    pub bytes: usize,
    #[serde(rename = "type")]
    pub mime: &'static str,
    /// The room already had it (nothing was added).
    #[serde(skip)]
    pub existed: bool,
}

/// One room's assets.
#[derive(Debug, Default)]
pub(super) struct RoomAssets {
    files: HashMap<AssetRef, Asset>,
    bytes: usize,
}

impl RoomAssets {
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn get(&self, id: &AssetRef) -> Option<&Asset> {
        self.files.get(id)
    }

    /// Stores `asset` under `id` unless that would pass `limits`; `total` is what all
    /// rooms hold now.
    pub(super) fn put(
        &mut self,
        id: AssetRef,
        asset: Asset,
        limits: AssetLimits,
        total: usize,
    ) -> Result<Stored, ApiError> {
        let size = asset.data.len();
        let stored = |existed| Stored {
            asset: id.clone(),
            bytes: size,
            mime: asset.kind.mime(),
            existed,
        };
        if self.files.contains_key(&id) {
            return Ok(stored(true));
        }
        let too_large = |message: String| ApiError::new(ErrorCode::TooLarge, message);
        if size > limits.file {
            return Err(too_large(format!(
                "files are at most {} bytes",
                limits.file
            )));
        }
        if self.bytes.saturating_add(size) > limits.room {
            return Err(too_large(format!(
                "this room's files would pass {} bytes",
                limits.room
            )));
        }
        if total.saturating_add(size) > limits.total {
            return Err(ApiError::new(
                ErrorCode::Capacity,
                "the relay holds as many files as it may",
            ));
        }
        let answer = stored(false);
        self.bytes += size;
        self.files.insert(id, asset);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf(body: &str) -> Asset {
        Asset {
            kind: AssetType::Pdf,
            data: Bytes::from(format!("%PDF-1.4\n{body}")),
        }
    }

    #[test]
    fn files_are_known_by_their_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(AssetType::Pdf));
        assert_eq!(sniff(b"\xef\xbb\xbf junk %PDF-1.4"), Some(AssetType::Pdf));
        let mut late = vec![b' '; PDF_HEADER_WINDOW];
        late.extend_from_slice(b"%PDF-1.4");
        assert_eq!(sniff(&late), None, "a header past the first KiB is not one");
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(AssetType::Png)
        );
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some(AssetType::Jpeg));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(
            AssetType::from_mime("Application/PDF; charset=binary"),
            Some(AssetType::Pdf)
        );
        assert_eq!(AssetType::from_mime("image/gif"), None);
    }

    #[test]
    fn ids_are_content_hashes() {
        let a = asset_id(b"abc");
        assert_eq!(
            a.as_str(),
            "sha256-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(asset_id(b"abd"), a);
    }

    #[test]
    fn caps_per_file_per_room_and_in_all() {
        let limits = AssetLimits {
            file: 20,
            room: 30,
            total: 45,
        };
        let mut room = RoomAssets::default();
        let one = pdf("one"); // 12 bytes
        let id = asset_id(&one.data);
        let s = room.put(id.clone(), one.clone(), limits, 0).unwrap();
        assert_eq!((s.bytes, s.mime, s.existed), (12, "application/pdf", false));
        // The same file again costs nothing.
        assert!(room.put(id.clone(), one, limits, 12).unwrap().existed);
        assert_eq!(room.bytes(), 12);

        let big = pdf(&"x".repeat(20));
        let err = room.put(asset_id(&big.data), big, limits, 12).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);

        let two = pdf("second-one"); // 19 bytes: 31 in the room
        let err = room.put(asset_id(&two.data), two, limits, 12).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);

        let three = pdf("three"); // 14 bytes: fits the room, not the relay
        let err = room
            .put(asset_id(&three.data), three.clone(), limits, 40)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Capacity);
        room.put(asset_id(&three.data), three, limits, 12).unwrap();
        assert_eq!(room.bytes(), 26);
        assert!(room.get(&id).is_some());
    }
}
