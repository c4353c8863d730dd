use lectern_proto::{ApiError, ErrorCode};

/// Why publishing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The relay could not be reached over HTTP (refused, timed out, DNS).
    #[error("relay unreachable: {0}")]
    Unreachable(String),
    /// The relay answered with an error (`code` is its stable error code).
    #[error("relay refused ({status}): {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The relay's answer or our own offer did not work as SDP.
    #[error("bad SDP: {0}")]
    Sdp(String),
    /// The peer connection failed (ICE, DTLS) or went silent.
    #[error("connection failed: {0}")]
    Connection(String),
    /// A local socket could not be opened.
    #[error("network: {0}")]
    Io(String),
}

impl ClientError {
    /// Whether trying again later can help: a restarting relay or a dropped network, not
    /// a token the relay will never accept.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable(_) | Self::Connection(_) | Self::Io(_) | Self::Sdp(_) => true,
            Self::Refused { status, code, .. } => {
                *status >= 500 || *status == 429 || *status == 408 || code == "capacity"
            }
        }
    }

    /// The `{code, message}` the UI shows.
    pub fn to_api(&self) -> ApiError {
        let code = match self {
            Self::Unreachable(_) => ErrorCode::Unreachable,
            Self::Connection(_) | Self::Io(_) => ErrorCode::ConnectionFailed,
            Self::Sdp(_) => ErrorCode::BadSdp,
            Self::Refused { code, .. } => {
                serde_json::from_value(serde_json::Value::String(code.clone()))
                    .unwrap_or(ErrorCode::Internal)
            }
        };
        ApiError::new(code, self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_retry_and_bad_tokens_do_not() {
        let refused = |status, code: &str| ClientError::Refused {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(ClientError::Unreachable("refused".into()).is_retryable());
        assert!(refused(503, "capacity").is_retryable());
        assert!(!refused(401, "token_expired").is_retryable());
        assert!(!refused(403, "wrong_room").is_retryable());
        assert_eq!(
            refused(401, "token_expired").to_api().code,
            ErrorCode::TokenExpired
        );
        assert_eq!(refused(418, "teapot").to_api().code, ErrorCode::Internal);
    }
}
