//! The whole self-check: the devices ([`lectern_media::selfcheck`]) and then the
//! network probe against the relay, one report and one verdict. It lives here because
//! the probe speaks to a relay, and `lectern-media` knows no relay.

use std::time::Instant;

use lectern_media::selfcheck as devices_check;
use lectern_media::{CaptureSession, Devices};
use lectern_proto::{
    DeviceSelection, NetworkStats, NetworkTransport, SelfCheckProgress, SelfCheckReport, Stage,
};

use crate::netprobe::{self, Plan, ProbeTarget};

/// Share of the progress bar the device checks take; the network probe has the rest.
const DEVICES_SHARE: f32 = 0.8;

/// Which relay the network stage probes.
#[derive(Debug, Clone)]
pub enum NetworkCheck {
    /// Probe this relay.
    Relay(ProbeTarget),
    /// The relay is known to be down (the embedded one failed to start): report it
    /// unreachable without trying. The text names it in the finding.
    Down(String),
    /// No network stage.
    Skip,
}

/// Runs the device checks, then the network probe, and folds both into one report.
pub async fn run(
    devices: &Devices,
    session: &CaptureSession,
    selection: &DeviceSelection,
    options: &devices_check::Options,
    network: &NetworkCheck,
    progress: &mut (dyn FnMut(SelfCheckProgress) + Send),
) -> SelfCheckReport {
    let started = Instant::now();
    let skip = matches!(network, NetworkCheck::Skip);
    let mut report = {
        let mut scaled = |p: SelfCheckProgress| {
            if skip {
                progress(p);
            } else if p.stage != Stage::Done {
                progress(SelfCheckProgress {
                    stage: p.stage,
                    fraction: p.fraction * DEVICES_SHARE,
                });
            }
        };
        devices_check::run(devices, session, selection, options, &mut scaled).await
    };
    if skip {
        return report;
    }
    progress(SelfCheckProgress {
        stage: Stage::Network,
        fraction: DEVICES_SHARE,
    });
    let stats = probe(network, &mut |f| {
        progress(SelfCheckProgress {
            stage: Stage::Network,
            fraction: DEVICES_SHARE + (1.0 - DEVICES_SHARE) * f,
        });
    })
    .await;
    if let Some(stats) = stats {
        report.add_findings(netprobe::findings(&stats));
        report.network = Some(stats);
    }
    // The whole check, devices and network.
    report.duration_ms = started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
    progress(SelfCheckProgress {
        stage: Stage::Done,
        fraction: 1.0,
    });
    report
}

/// The network stage alone. `None` when the relay refused to be probed (it does not
/// offer the probe, or wants a token the console does not have): nothing is known.
pub async fn probe(
    network: &NetworkCheck,
    progress: &mut (dyn FnMut(f32) + Send),
) -> Option<NetworkStats> {
    match network {
        NetworkCheck::Skip => None,
        NetworkCheck::Down(relay) => Some(NetworkStats {
            relay: relay.clone(),
            transport: NetworkTransport::Unreachable,
            rtt_p50_ms: None,
            rtt_p95_ms: None,
            jitter_ms: None,
            loss_percent: None,
            loss_down_percent: None,
            upload_kbps: None,
            upload_at_ceiling: false,
            samples: 0,
        }),
        NetworkCheck::Relay(target) => {
            match netprobe::run(target, Plan::default(), progress).await {
                Ok(stats) => Some(stats),
                Err(e) => {
                    tracing::warn!("network probe refused: {e}");
                    None
                }
            }
        }
    }
}
