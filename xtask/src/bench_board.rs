//! Rows for the whiteboard: op fan-out through the relay, the room's op rate, a late
//! joiner's snapshot of a big board, and the renderer's frame time in Chromium.

use anyhow::Result;

use crate::sh::cmd;

use crate::bench::field;

fn bench(name: &str, arg: &str) -> Result<String> {
    cmd("cargo")
        .args([
            "bench",
            "-q",
            "-p",
            "lectern-e2e",
            "--bench",
            name,
            "--",
            arg,
        ])
        .output()
}

fn scenario<'a>(out: &'a str, name: &str) -> &'a str {
    let tag = format!("\"scenario\":\"{name}\"");
    out.lines()
        .find(|l| l.starts_with('{') && l.contains(&tag))
        .unwrap_or_default()
}

pub(crate) fn board_rows() -> Result<Vec<String>> {
    let out = bench("board", "5")?;
    let mut rows = Vec::new();
    let reproduce = "`cargo bench -p lectern-e2e --bench board -- 5`";
    let class = scenario(&out, "class");
    let f = |k: &str| field(class, k);
    rows.push(format!(
        "| board op fan-out over WebSockets: the teacher draws at the per-author limit ({:.0} ops/s) → 51 clients: delay p50 / p99, relay CPU | **{:.1} / {:.1} ms**; {:.1} % of a core; every client got every op: {} | p99 ≤ 50 ms | {reproduce} |",
        f("ops_per_sec_offered"),
        f("delay_p50_ms"),
        f("delay_p99_ms"),
        f("relay_cpu") * 100.0,
        class.contains("\"every_client_got_every_op\":true"),
    ));
    let room = scenario(&out, "room");
    let f = |k: &str| field(room, k);
    let cpu = f("relay_cpu");
    rows.push(format!(
        "| board ops one room sustains: all 51 hold the pen and draw at their limit → 51 clients: ops/s delivered to each, delay p50 / p99, relay CPU | **{:.0} ops/s** ({:.0} messages/s out); {:.1} / {:.1} ms; {:.1} % of a core (≈ {:.0} ops/s to 51 clients per core); every client got every op: {} | ≥ 1000 ops/s per room | {reproduce} |",
        f("ops_per_sec_delivered_to_each"),
        f("messages_per_sec_out"),
        f("delay_p50_ms"),
        f("delay_p99_ms"),
        cpu * 100.0,
        f("ops_per_sec_delivered_to_each") / cpu,
        room.contains("\"every_client_got_every_op\":true"),
    ));
    let late = scenario(&out, "late_join");
    let f = |k: &str| field(late, k);
    rows.push(format!(
        "| late join on a board of 20 pages × 2,000 strokes (24 points each): snapshot size, `board_sync` → snapshot read (first joiner: relay serializes; next: cached), client parse | {:.1} MB; **{:.0} ms** first, {:.0} ms cached; parse {:.0} ms (Rust) | ≤ 1 s on loopback | {reproduce} |",
        f("snapshot_bytes") / 1e6,
        f("first_sync_ms"),
        f("cached_sync_ms"),
        f("client_parse_ms"),
    ));

    let out = bench("board_render", "5000")?;
    let render = scenario(&out, "render");
    let f = |k: &str| field(render, k);
    let browser = render
        .split("\"browser\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("Chromium");
    rows.push(format!(
        "| board render in headless {browser} (software), 5,000 strokes on a page: frame while drawing on top mean / p95 / worst; full redraw (after zoom settles); frame with no cached layer | **{:.1} / {:.1} / {:.0} ms**; {:.0} ms; {:.0} ms | ≤ 16.7 ms a frame (60 fps) | `cargo bench -p lectern-e2e --bench board_render -- 5000` |",
        f("liveFrameMs"),
        f("p95FrameMs"),
        f("worstFrameMs"),
        f("rebuildMs"),
        f("uncachedFrameMs"),
    ));
    Ok(rows)
}
