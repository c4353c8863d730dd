//! Board assets over real HTTP: the teacher uploads a PDF, a student fetches it with
//! their own token; students, observers, strangers and other rooms are refused; files
//! that are too large or are not what they claim to be are refused; and the files go
//! when the room empties, as its board does.

use futures_util::StreamExt;
use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::{Relay, RelayConfig, TokenSigner};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "asset-test-secret-asset-test-secret";
const WAIT: Duration = Duration::from_secs(5);

async fn start(max_asset_bytes: usize, max_room_asset_bytes: usize) -> Relay {
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        media: "127.0.0.1:0".parse().unwrap(),
        secret: SECRET.into(),
        max_asset_bytes,
        max_room_asset_bytes,
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

fn token(signer: &TokenSigner, room: &str, sub: &str, role: Role) -> String {
    signer.issue(
        RoomId::new(room).unwrap(),
        PeerId::new(sub).unwrap(),
        sub,
        role,
        Duration::from_secs(600),
    )
}

/// Opens signaling for `token` and keeps it open until the returned handle is aborted:
/// an upload needs someone in the room.
async fn be_in(relay: &Relay, room: &str, token: &str) -> tokio::task::JoinHandle<()> {
    let url = format!("ws://{}/ws/{room}?token={token}", relay.http_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("socket opens");
    // The welcome says the room has us.
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a welcome in time")
        .expect("socket open")
        .expect("a frame");
    tokio::spawn(async move { while ws.next().await.is_some() {} })
}

/// A small PDF; `n` makes each one different.
fn pdf(n: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.4\n".to_vec();
    v.extend(std::iter::repeat_n(b'%', n));
    v.extend_from_slice(b"\n%%EOF\n");
    v
}

async fn upload(
    relay: &Relay,
    room: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/board-assets/{room}", relay.http_addr()))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the relay answers");
    let status = resp.status();
    (status, resp.json().await.expect("a JSON body"))
}

fn asset_url(relay: &Relay, room: &str, asset: &str, token: &str) -> String {
    format!(
        "http://{}/board-assets/{room}/{asset}?token={token}",
        relay.http_addr()
    )
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("the relay answers")
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: Value = resp.json().await.expect("a JSON error");
    assert!(body["message"].is_string(), "{body}");
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_teachers_pdf_reaches_a_student_and_is_cached_forever() {
    let relay = start(1 << 20, 4 << 20).await;
    let teacher = token(relay.signer(), "math", "teacher", Role::Teacher);
    let ann = token(relay.signer(), "math", "ann", Role::Student);
    let _here = be_in(&relay, "math", &teacher).await;

    let file = pdf(100);
    let (status, v) = upload(&relay, "math", &teacher, "application/pdf", file.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["asset"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256-") && id.len() == 71, "{id}");
    assert_eq!(v["bytes"], file.len());
    assert_eq!(v["type"], "application/pdf");

    // The same file again is the same asset, stored once.
    let (status, again) = upload(&relay, "math", &teacher, "application/pdf", file.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["asset"], id.as_str());

    let resp = get(&asset_url(&relay, "math", &id, &ann)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(
        h["cache-control"].to_str().unwrap().contains("immutable"),
        "{h:?}"
    );
    assert_eq!(resp.bytes().await.unwrap(), file);

    // A bearer token works too, and a cached copy is confirmed without the body.
    let url = format!("http://{}/board-assets/math/{id}", relay.http_addr());
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&ann)
        .header("if-none-match", h["etag"].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // The console is another origin: its preflight is answered.
    let resp = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{}/board-assets/math", relay.http_addr()),
        )
        .header("origin", "tauri://localhost")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("authorization"), "{allowed}");

    // Images are board assets too.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let (status, v) = upload(&relay, "math", &teacher, "image/png", png).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["type"], "image/png");

    let metrics = get(&format!("http://{}/metrics", relay.http_addr()))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "lectern_relay_board_asset_bytes {}",
            file.len() + 16
        )),
        "{metrics}"
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn only_the_teacher_uploads_and_only_the_board_reads() {
    let relay = start(1 << 20, 4 << 20).await;
    let s = relay.signer();
    let teacher = token(s, "math", "teacher", Role::Teacher);
    let ann = token(s, "math", "ann", Role::Student);
    let dad = token(s, "math", "dad", Role::Observer);
    let art_teacher = token(s, "art", "teacher", Role::Teacher);
    let stranger = token(
        &TokenSigner::new(b"another relay's secret, 32 bytes!".to_vec()),
        "math",
        "teacher",
        Role::Teacher,
    );

    // Nobody in the room yet: there is no board to show it.
    let (status, v) = upload(&relay, "math", &teacher, "application/pdf", pdf(1)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    let _here = be_in(&relay, "math", &teacher).await;
    for (who, status, code) in [
        (&ann, StatusCode::FORBIDDEN, "forbidden"),
        (&dad, StatusCode::FORBIDDEN, "forbidden"),
        (&art_teacher, StatusCode::FORBIDDEN, "wrong_room"),
        (&stranger, StatusCode::UNAUTHORIZED, "unauthorized"),
        (&String::new(), StatusCode::UNAUTHORIZED, "unauthorized"),
    ] {
        let (got, v) = upload(&relay, "math", who, "application/pdf", pdf(2)).await;
        assert_eq!((got, v["code"].as_str()), (status, Some(code)), "{v}");
    }

    let (_, v) = upload(&relay, "math", &teacher, "application/pdf", pdf(3)).await;
    let id = v["asset"].as_str().unwrap();
    let url = |who: &str| asset_url(&relay, "math", id, who);
    assert_eq!(get(&url(&teacher)).await.status(), StatusCode::OK);
    assert_eq!(get(&url(&ann)).await.status(), StatusCode::OK);
    // An observer's token does not carry the board.
    assert_eq!(
        error_of(get(&url(&dad)).await).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    assert_eq!(
        error_of(get(&url(&stranger)).await).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    assert_eq!(
        error_of(get(&url("")).await).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn rooms_do_not_see_each_others_files_and_an_empty_room_keeps_none() {
    let relay = start(1 << 20, 4 << 20).await;
    let s = relay.signer();
    let math = token(s, "math", "teacher", Role::Teacher);
    let art = token(s, "art", "teacher", Role::Teacher);
    let in_math = be_in(&relay, "math", &math).await;
    let _in_art = be_in(&relay, "art", &art).await;

    let (_, v) = upload(&relay, "math", &math, "application/pdf", pdf(4)).await;
    let id = v["asset"].as_str().unwrap().to_string();
    // Art's teacher knows the name but art has no such file.
    assert_eq!(
        error_of(get(&asset_url(&relay, "art", &id, &art)).await).await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    // A math token does not open art's files, nor an art token math's.
    assert_eq!(
        error_of(get(&asset_url(&relay, "art", &id, &math)).await).await,
        (StatusCode::FORBIDDEN, "wrong_room".into())
    );
    assert_eq!(
        error_of(get(&asset_url(&relay, "math", &id, &art)).await).await,
        (StatusCode::FORBIDDEN, "wrong_room".into())
    );
    assert_eq!(
        error_of(get(&asset_url(&relay, "math", "../../etc", &math)).await).await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );

    // The teacher leaves and the room empties: its board and its files go together.
    in_math.abort();
    let url = asset_url(&relay, "math", &id, &math);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = get(&url).await.status();
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn too_large_files_and_files_that_lie_about_their_type_are_refused() {
    let relay = start(1000, 2000).await;
    let teacher = token(relay.signer(), "math", "teacher", Role::Teacher);
    let _here = be_in(&relay, "math", &teacher).await;

    let (status, v) = upload(&relay, "math", &teacher, "application/pdf", pdf(1200)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );

    // Without a Content-Length (chunked), the limit still holds while reading.
    let status_line = chunked_upload(&relay, &teacher, &pdf(1200)).await;
    assert!(status_line.contains(" 413 "), "{status_line}");

    // Two files fit the room, a third does not.
    for n in [800, 801] {
        let (status, v) = upload(&relay, "math", &teacher, "application/pdf", pdf(n)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    let (status, v) = upload(&relay, "math", &teacher, "application/pdf", pdf(802)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    for (content_type, body) in [
        ("application/pdf", png.clone()), // a PNG that says it is a PDF
        ("image/png", pdf(5)),            // and the other way round
        ("image/jpeg", png),
        ("application/pdf", html.clone()),
        ("text/html", html),
        ("image/gif", b"GIF89a".to_vec()),
    ] {
        let (status, v) = upload(&relay, "math", &teacher, content_type, body).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_input")),
            "{content_type}: {v}"
        );
    }
    relay.shutdown().await;
}

/// Uploads `body` with chunked transfer encoding over a raw socket and returns the
/// response's status line.
async fn chunked_upload(relay: &Relay, token: &str, body: &[u8]) -> String {
    let mut tcp = TcpStream::connect(relay.http_addr()).await.unwrap();
    let mut req = format!(
        "POST /board-assets/math HTTP/1.1\r\nhost: relay\r\nauthorization: Bearer {token}\r\n\
         content-type: application/pdf\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(100) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    // The relay may answer and close before it has read everything.
    let _ = tcp.write_all(&req).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("\"too_large\""), "{answer}");
    answer.lines().next().unwrap_or_default().to_string()
}
