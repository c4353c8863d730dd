//! From the probe's figures to self-check findings, with the thresholds that decide.

use lectern_proto::{Finding, FindingCode, NetworkStats, NetworkTransport, PublishResolution};

/// Median round trip above this: speech crosses the class late (ms).
pub const HIGH_RTT_P50_MS: f32 = 150.0;
/// 95th-percentile round trip above this: frequent stalls (ms).
pub const HIGH_RTT_P95_MS: f32 = 300.0;
/// Jitter above this: the receivers' jitter buffers grow, video stutters (ms).
pub const HIGH_JITTER_MS: f32 = 30.0;
/// Upstream loss above this: retransmissions can no longer hide it (percent).
pub const HIGH_LOSS_PERCENT: f32 = 2.0;

fn round1(v: f32) -> f32 {
    (v * 10.0).round() / 10.0
}

/// The findings for one probe result, worst first within the network area.
pub fn findings(stats: &NetworkStats) -> Vec<Finding> {
    let mut out = Vec::new();
    let host = stats
        .relay
        .split("://")
        .nth(1)
        .unwrap_or(&stats.relay)
        .trim_end_matches('/')
        .to_owned();
    match stats.transport {
        NetworkTransport::Unreachable => {
            return vec![Finding::new(FindingCode::NetworkUnreachable).with("relay", host)];
        }
        NetworkTransport::TcpOnly => {
            out.push(Finding::new(FindingCode::NetworkTcpOnly).with("relay", host));
        }
        NetworkTransport::Udp => {}
    }
    if let (Some(p50), Some(p95)) = (stats.rtt_p50_ms, stats.rtt_p95_ms)
        && (p50 > HIGH_RTT_P50_MS || p95 > HIGH_RTT_P95_MS)
    {
        out.push(
            Finding::new(FindingCode::NetworkHighLatency)
                .with("rtt", p50.round())
                .with("rtt95", p95.round()),
        );
    }
    if let Some(j) = stats.jitter_ms.filter(|&j| j > HIGH_JITTER_MS) {
        out.push(Finding::new(FindingCode::NetworkJitter).with("jitter", j.round()));
    }
    if let Some(l) = stats.loss_percent.filter(|&l| l > HIGH_LOSS_PERCENT) {
        out.push(Finding::new(FindingCode::NetworkLoss).with("loss", round1(l)));
    }
    if let Some(kbps) = stats.upload_kbps.filter(|_| !stats.upload_at_ceiling)
        && kbps < PublishResolution::P720.upload_kbps()
    {
        let fits = PublishResolution::ALL
            .into_iter()
            .find(|r| r.upload_kbps() <= kbps);
        out.push(match fits {
            Some(r) => Finding::new(FindingCode::NetworkUploadLow)
                .with("upload", kbps)
                .with("resolution", r.label()),
            None => Finding::new(FindingCode::NetworkUploadTooLow).with("upload", kbps),
        });
    }
    if out.is_empty() {
        let mut ok = Finding::new(FindingCode::NetworkOk);
        if let Some(p50) = stats.rtt_p50_ms {
            ok = ok.with("rtt", round1(p50));
        }
        if let Some(kbps) = stats.upload_kbps {
            ok = ok.with("upload", kbps);
        }
        out.push(ok);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_proto::ParamValue;

    fn good() -> NetworkStats {
        NetworkStats {
            relay: "http://192.0.2.1:8686".into(),
            transport: NetworkTransport::Udp,
            rtt_p50_ms: Some(20.0),
            rtt_p95_ms: Some(35.0),
            jitter_ms: Some(2.0),
            loss_percent: Some(0.0),
            loss_down_percent: Some(0.0),
            upload_kbps: Some(7000),
            upload_at_ceiling: true,
            samples: 80,
        }
    }

    fn codes(stats: &NetworkStats) -> Vec<FindingCode> {
        findings(stats).iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_good_link_is_ok() {
        assert_eq!(codes(&good()), vec![FindingCode::NetworkOk]);
    }

    #[test]
    fn a_slow_upload_names_the_resolution_that_fits() {
        let at = |kbps| NetworkStats {
            upload_kbps: Some(kbps),
            upload_at_ceiling: false,
            ..good()
        };
        let f = findings(&at(1500));
        assert_eq!(f[0].code, FindingCode::NetworkUploadLow);
        assert_eq!(f[0].params["resolution"], ParamValue::from("540p"));
        assert_eq!(
            findings(&at(900))[0].params["resolution"],
            ParamValue::from("360p")
        );
        assert_eq!(codes(&at(500)), vec![FindingCode::NetworkUploadTooLow]);
        assert_eq!(codes(&at(2100)), vec![FindingCode::NetworkOk]);
    }

    #[test]
    fn latency_jitter_and_loss_warn_each() {
        let bad = NetworkStats {
            rtt_p50_ms: Some(80.0),
            rtt_p95_ms: Some(420.0),
            jitter_ms: Some(45.0),
            loss_percent: Some(6.25),
            ..good()
        };
        assert_eq!(
            codes(&bad),
            vec![
                FindingCode::NetworkHighLatency,
                FindingCode::NetworkJitter,
                FindingCode::NetworkLoss
            ]
        );
        assert_eq!(findings(&bad)[2].params["loss"], ParamValue::from(6.3_f32));
    }

    #[test]
    fn udp_blocked_and_unreachable() {
        let tcp = NetworkStats {
            transport: NetworkTransport::TcpOnly,
            loss_percent: None,
            ..good()
        };
        let f = findings(&tcp);
        assert_eq!(f[0].code, FindingCode::NetworkTcpOnly);
        assert_eq!(f[0].params["relay"], ParamValue::from("192.0.2.1:8686"));
        assert_eq!(f.len(), 1, "no OK next to a warning");
        let gone = NetworkStats {
            transport: NetworkTransport::Unreachable,
            ..good()
        };
        assert_eq!(codes(&gone), vec![FindingCode::NetworkUnreachable]);
    }
}
