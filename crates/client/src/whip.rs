//! The WHIP exchange (RFC 9725): POST an offer, keep the resource URL, DELETE it on stop.

use std::time::Duration;

use crate::ClientError;

/// A WHIP resource the server created for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhipSession {
    /// Absolute URL of the session resource (from `Location`).
    pub url: Option<String>,
    /// The SDP answer.
    pub answer: String,
}

/// How long one HTTP exchange may take before the attempt counts as failed.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP client for WHIP exchanges.
pub(crate) fn http() -> reqwest::Client {
    crate::http::client(HTTP_TIMEOUT, Duration::from_secs(3))
}

/// Offers `sdp` to the WHIP endpoint at `url` with a bearer `token`.
pub(crate) async fn offer(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    sdp: String,
) -> Result<WhipSession, ClientError> {
    let resp = http
        .post(url)
        .header("content-type", "application/sdp")
        .bearer_auth(token)
        .body(sdp)
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp
        .text()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    if status.as_u16() != 201 && status.as_u16() != 200 {
        return Err(refusal(status.as_u16(), &body));
    }
    if !body.starts_with("v=0") {
        return Err(ClientError::Sdp("the answer is not an SDP".into()));
    }
    Ok(WhipSession {
        url: location.and_then(|l| absolute(url, &l)),
        answer: body,
    })
}

/// Offers `pc`'s local description to the WHIP or WHEP endpoint at `url` and applies the
/// answer: the whole exchange of RFC 9725 (and its WHEP sibling) for one session.
pub(crate) async fn negotiate(
    pc: &mut rtc::peer_connection::RTCPeerConnection,
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<WhipSession, ClientError> {
    use rtc::peer_connection::sdp::RTCSessionDescription;
    use std::time::Instant;
    let rtc_err = |e: rtc::shared::error::Error| ClientError::Connection(e.to_string());
    let sdp_err = |e: rtc::shared::error::Error| ClientError::Sdp(e.to_string());
    let ours = pc.create_offer(None).map_err(rtc_err)?;
    pc.set_local_description(Instant::now(), ours)
        .map_err(rtc_err)?;
    let sdp = pc
        .local_description()
        .ok_or_else(|| ClientError::Sdp("no local description".into()))?
        .sdp;
    let session = offer(http, url, token, sdp).await?;
    let answer = RTCSessionDescription::answer(session.answer.clone()).map_err(sdp_err)?;
    pc.set_remote_description(Instant::now(), answer)
        .map_err(sdp_err)?;
    Ok(session)
}

/// Ends the session; errors are only logged (the server may already be gone).
pub(crate) async fn delete(http: &reqwest::Client, session_url: &str, token: &str) {
    match http.delete(session_url).bearer_auth(token).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::debug!("WHIP DELETE {session_url}: {}", r.status()),
        Err(e) => tracing::debug!("WHIP DELETE {session_url}: {e}"),
    }
}

/// Reads a `{code, message}` body; other servers may answer in plain text.
pub(crate) fn refusal(status: u16, body: &str) -> ClientError {
    #[derive(serde::Deserialize)]
    struct Body {
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Body>(body) {
        Ok(b) => ClientError::Refused {
            status,
            code: b.code,
            message: b.message,
        },
        Err(_) => ClientError::Refused {
            status,
            code: match status {
                401 => "unauthorized",
                403 => "forbidden",
                404 => "not_found",
                _ => "internal",
            }
            .into(),
            message: body.chars().take(200).collect(),
        },
    }
}

/// Resolves a `Location` (often a path) against the endpoint URL.
fn absolute(endpoint: &str, location: &str) -> Option<String> {
    reqwest::Url::parse(endpoint)
        .and_then(|base| base.join(location))
        .ok()
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_endpoint() {
        assert_eq!(
            absolute("http://10.0.0.2:8686/whip/math", "/whip/math/abc").as_deref(),
            Some("http://10.0.0.2:8686/whip/math/abc")
        );
        assert_eq!(
            absolute("http://a/whip/x", "http://b/resource/1").as_deref(),
            Some("http://b/resource/1")
        );
    }

    #[test]
    fn refusals_keep_the_servers_code() {
        let e = refusal(
            403,
            r#"{"code":"wrong_room","message":"token is for another room"}"#,
        );
        assert_eq!(
            e,
            ClientError::Refused {
                status: 403,
                code: "wrong_room".into(),
                message: "token is for another room".into()
            }
        );
        let plain = refusal(401, "Unauthorized");
        assert!(matches!(plain, ClientError::Refused { ref code, .. } if code == "unauthorized"));
    }
}
