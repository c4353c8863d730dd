use lectern_proto::ErrorCode;

/// Why an op, a document or a sync step was refused. Nothing changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// The op names a page the board does not have.
    #[error("no such page")]
    PageNotFound,
    /// The op names a shape the page does not have.
    #[error("no such shape on this page")]
    ShapeNotFound,
    /// The op needs a stroke and the shape is something else.
    #[error("the shape is not a stroke")]
    NotAStroke,
    /// Points were sent for a stroke whose pen is already up.
    #[error("the stroke is already finished")]
    StrokeFinished,
    /// Points were sent for a stroke someone else is drawing.
    #[error("the stroke belongs to someone else")]
    NotYourStroke,
    /// The op's `client_seq` is not above the author's last op (a repeat or a replay).
    #[error("op {client_seq} is not above the author's last op {last}")]
    StaleOp {
        /// The refused op's counter.
        client_seq: u64,
        /// The author's last accepted counter.
        last: u64,
    },
    /// The id the op would create is already on the board.
    #[error("the id this op creates is already taken")]
    IdTaken,
    /// The board already has the most pages it allows.
    #[error("the board has the most pages it allows")]
    TooManyPages,
    /// The page already has the most shapes it allows.
    #[error("the page has the most shapes it allows")]
    TooManyShapes,
    /// One op carries more points, ids or ranges than one batch allows.
    #[error("too many items in one op")]
    BatchTooLarge,
    /// The stroke would have more points than a stroke allows.
    #[error("the stroke would be too long")]
    StrokeTooLong,
    /// A text shape's text is longer than allowed.
    #[error("the text is too long")]
    TextTooLong,
    /// The op carries nothing to do (no points, no ids, no ranges, no text).
    #[error("the op is empty")]
    Empty,
    /// A number is not finite or outside its allowed range.
    #[error("{0} is not a finite number in its allowed range")]
    BadNumber(&'static str),
    /// A position lies too far outside the page.
    #[error("a position lies too far outside the page")]
    OutOfBounds,
    /// Partial-erase ranges are empty, overlapping, unsorted or past the stroke's end.
    #[error("bad point ranges")]
    BadRange,
    /// The author has nothing left that undo would change.
    #[error("nothing to undo")]
    NothingToUndo,
    /// The author has nothing to redo.
    #[error("nothing to redo")]
    NothingToRedo,
    /// The author may not do this (no pen, or teacher-only).
    #[error("not allowed")]
    Forbidden,
    /// The op's author is not the peer who sent it.
    #[error("the op's author is not the sender")]
    WrongAuthor,
    /// A document of a version this build cannot read.
    #[error("board document version {0} is not supported")]
    UnsupportedVersion(u32),
    /// A document that is not valid JSON of the board's shape.
    #[error("malformed board document: {0}")]
    Malformed(String),
    /// An ordered op arrived out of turn; a sync from the last known seq is needed.
    #[error("expected server seq {expected}, got {got}")]
    SeqGap {
        /// The seq that should have come next.
        expected: u64,
        /// The seq that came.
        got: u64,
    },
    /// The ops asked for are older than the log still kept; a snapshot is needed.
    #[error("ops before seq {0} are no longer kept")]
    SeqTrimmed(u64),
    /// An op the relay accepted failed here: the replicas disagree; a snapshot is needed.
    #[error("an ordered op failed locally ({0}); resync from a snapshot")]
    Desync(&'static str),
}

impl BoardError {
    /// The stable snake_case code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PageNotFound => "page_not_found",
            Self::ShapeNotFound => "shape_not_found",
            Self::NotAStroke => "not_a_stroke",
            Self::StrokeFinished => "stroke_finished",
            Self::NotYourStroke => "not_your_stroke",
            Self::StaleOp { .. } => "stale_op",
            Self::IdTaken => "id_taken",
            Self::TooManyPages => "too_many_pages",
            Self::TooManyShapes => "too_many_shapes",
            Self::BatchTooLarge => "batch_too_large",
            Self::StrokeTooLong => "stroke_too_long",
            Self::TextTooLong => "text_too_long",
            Self::Empty => "empty",
            Self::BadNumber(_) => "bad_number",
            Self::OutOfBounds => "out_of_bounds",
            Self::BadRange => "bad_range",
            Self::NothingToUndo => "nothing_to_undo",
            Self::NothingToRedo => "nothing_to_redo",
            Self::Forbidden => "forbidden",
            Self::WrongAuthor => "wrong_author",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Malformed(_) => "malformed",
            Self::SeqGap { .. } => "seq_gap",
            Self::SeqTrimmed(_) => "seq_trimmed",
            Self::Desync(_) => "desync",
        }
    }

    /// The coarse code of the shared `{ code, message }` error shape, for transports
    /// that only carry [`ErrorCode`].
    pub fn api_code(&self) -> ErrorCode {
        match self {
            Self::PageNotFound | Self::ShapeNotFound => ErrorCode::NotFound,
            Self::Forbidden | Self::WrongAuthor | Self::NotYourStroke => ErrorCode::Forbidden,
            Self::TooManyPages
            | Self::TooManyShapes
            | Self::BatchTooLarge
            | Self::StrokeTooLong
            | Self::TextTooLong => ErrorCode::TooLarge,
            Self::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Self::Desync(_) => ErrorCode::Internal,
            _ => ErrorCode::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let all = [
            BoardError::PageNotFound,
            BoardError::ShapeNotFound,
            BoardError::NotAStroke,
            BoardError::StrokeFinished,
            BoardError::NotYourStroke,
            BoardError::StaleOp {
                client_seq: 1,
                last: 1,
            },
            BoardError::IdTaken,
            BoardError::TooManyPages,
            BoardError::TooManyShapes,
            BoardError::BatchTooLarge,
            BoardError::StrokeTooLong,
            BoardError::TextTooLong,
            BoardError::Empty,
            BoardError::BadNumber("width"),
            BoardError::OutOfBounds,
            BoardError::BadRange,
            BoardError::NothingToUndo,
            BoardError::NothingToRedo,
            BoardError::Forbidden,
            BoardError::WrongAuthor,
            BoardError::UnsupportedVersion(9),
            BoardError::Malformed("x".into()),
            BoardError::SeqGap {
                expected: 2,
                got: 3,
            },
            BoardError::SeqTrimmed(1),
            BoardError::Desync("x"),
        ];
        let mut codes: Vec<_> = all.iter().map(BoardError::code).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_eq!(BoardError::Forbidden.api_code(), ErrorCode::Forbidden);
        assert_eq!(BoardError::BatchTooLarge.api_code(), ErrorCode::TooLarge);
    }
}
