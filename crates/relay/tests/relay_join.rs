//! One class link, many students: each exchanges the shared link for a token of their
//! own at `POST /join/{room}`, so students who share a link are different people in the
//! room instead of replacing each other.

use futures_util::StreamExt;
use lectern_proto::{JoinResponse, Role, RoomId};
use lectern_relay::{Relay, RelayConfig};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

async fn start() -> Relay {
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        media: "127.0.0.1:0".parse().unwrap(),
        secret: "join-test-secret-join-test-secret".into(),
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

async fn join(relay: &Relay, room: &str, link: &str, body: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/join/{room}", relay.http_addr()))
        .bearer_auth(link)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the relay answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

/// Opens signaling and returns the `welcome`.
async fn welcome(relay: &Relay, token: &str) -> Value {
    let url = format!("ws://{}/ws/math?token={token}", relay.http_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("socket opens");
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a welcome in time")
            .expect("socket open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            let msg: Value = serde_json::from_str(&text).unwrap();
            if msg["type"] == "welcome" {
                // Keep the socket open for the rest of the test.
                tokio::spawn(async move { while ws.next().await.is_some() {} });
                return msg;
            }
        }
    }
}

#[tokio::test]
async fn students_sharing_one_link_are_each_themselves_in_the_room() {
    let relay = start().await;
    let math = RoomId::new("math").unwrap();
    let link = relay
        .signer()
        .issue_invite(math.clone(), Role::Student, Duration::from_secs(600));

    // The link itself opens neither signaling nor media, with a message that says why.
    let ws = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/math?token={link}",
        relay.http_addr()
    ))
    .await;
    assert!(ws.is_err(), "a class link cannot open signaling");
    let why: Value = reqwest::get(format!("http://{}/ws/math?token={link}", relay.http_addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(why["code"], "forbidden");
    assert!(why["message"].as_str().unwrap().contains("/join/"), "{why}");
    // The page opens with it: it asks for the name.
    let page = reqwest::get(format!(
        "http://{}/room/math?token={link}",
        relay.http_addr()
    ))
    .await
    .unwrap();
    assert!(
        matches!(page.status().as_u16(), 200 | 503),
        "{}",
        page.status()
    );

    let (status, ann) = join(&relay, "math", &link, r#"{"name": "  Ann "}"#).await;
    assert_eq!(status, 201, "{ann}");
    let ann: JoinResponse = serde_json::from_value(ann).unwrap();
    assert_eq!(ann.name, "Ann");
    let (_, bob) = join(&relay, "math", &link, &json!({"name": "李华"}).to_string()).await;
    let bob: JoinResponse = serde_json::from_value(bob).unwrap();
    assert_ne!(ann.peer, bob.peer);

    // Both in the room at once: Bob's welcome lists Ann, by her name, and himself.
    let _ann_ws = welcome(&relay, &ann.token).await;
    let bob_welcome = welcome(&relay, &bob.token).await;
    assert_eq!(bob_welcome["you"]["id"], bob.peer.as_str());
    assert_eq!(bob_welcome["you"]["name"], "李华");
    let mut names: Vec<&str> = bob_welcome["roster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Ann", "李华"]);
    relay.shutdown().await;
}

#[tokio::test]
async fn bad_joins_get_clear_errors_and_mint_nothing() {
    let relay = start().await;
    let math = RoomId::new("math").unwrap();
    let link = relay
        .signer()
        .issue_invite(math.clone(), Role::Student, Duration::from_secs(600));
    let personal = relay.signer().issue(
        math,
        lectern_proto::PeerId::new("ann").unwrap(),
        "Ann",
        Role::Student,
        Duration::from_secs(600),
    );
    let long = json!({ "name": "x".repeat(65) }).to_string();
    let huge = json!({ "name": "x".repeat(5000) }).to_string();
    for (room, token, body, status, code) in [
        ("math", "", r#"{"name":"Ann"}"#, 401, "unauthorized"),
        (
            "math",
            "lt1.garbage.sig",
            r#"{"name":"Ann"}"#,
            401,
            "unauthorized",
        ),
        ("art", link.as_str(), r#"{"name":"Ann"}"#, 403, "wrong_room"),
        (
            "math",
            personal.as_str(),
            r#"{"name":"Eve"}"#,
            403,
            "forbidden",
        ),
        (
            "math",
            link.as_str(),
            r#"{"name":"   "}"#,
            400,
            "invalid_input",
        ),
        ("math", link.as_str(), long.as_str(), 400, "invalid_input"),
        ("math", link.as_str(), huge.as_str(), 413, "too_large"),
        (
            "math",
            link.as_str(),
            r#"{"nom":"Ann"}"#,
            400,
            "invalid_input",
        ),
        ("math", link.as_str(), "not json", 400, "invalid_input"),
        (
            "bad room!",
            link.as_str(),
            r#"{"name":"Ann"}"#,
            400,
            "invalid_input",
        ),
    ] {
        let (got, body_json) = join(&relay, room, token, body).await;
        assert_eq!(
            (got, body_json["code"].as_str()),
            (status, Some(code)),
            "{room} {body}: {body_json}"
        );
        assert!(body_json.get("token").is_none());
        assert!(body_json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The relay still serves a good join afterwards.
    let (status, _) = join(&relay, "math", &link, r#"{"name":"Ann"}"#).await;
    assert_eq!(status, 201);
    relay.shutdown().await;
}
