//! Echo cancellation through the same synthetic devices the app runs on: the synthetic
//! speaker plays into the air the synthetic microphone hears (−30 dB, 25 ms later), as a
//! laptop's speakers reach its microphone. The console's speaker mix plays a student's
//! voice; the teacher's microphone chunks go through the canceller as in the class's
//! encode thread. In the teacher's own pauses (the synthetic microphone's programme
//! pauses for 0.5 s every 4 s) the microphone hears only the room's floor and the echo,
//! so the echo left before and after the canceller is measured there directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use lectern_media::synthetic::Faults;
use lectern_media::{AUDIO_CHUNK, Devices, MediaClock, Playout, SAMPLE_RATE, echo_canceller};

/// A voice-like student: noise shaped at syllable rate, loud (−12 dBFS peaks).
fn student_voice(n: u64) -> f32 {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    let noise = (x % 2000) as f32 / 1000.0 - 1.0;
    let t = n as f32 / SAMPLE_RATE as f32;
    let env = (t * 4.0 * std::f32::consts::PI).sin().abs();
    0.25 * noise * env
}

#[test]
fn the_students_voice_is_cancelled_from_the_teachers_microphone() {
    let devices = Devices::synthetic_only(Faults::default());
    let list = devices.list();
    let speaker = devices
        .open_speaker(Devices::pick(&list.speakers, None).unwrap())
        .unwrap();
    let mut mic = devices
        .open_microphone(
            Devices::pick(&list.microphones, None).unwrap(),
            MediaClock::start(),
        )
        .unwrap();
    let (reference, mut aec) = echo_canceller();
    let playout = Playout::start(speaker, Some(reference)).unwrap();
    let voice = playout.input();
    let stop = Arc::new(AtomicBool::new(false));
    // The student's packets arrive every 20 ms, as the network delivers them.
    let feeder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            let start = std::time::Instant::now();
            let mut k = 0u32;
            while !stop.load(Relaxed) {
                let samples: Vec<f32> = (n..n + 960).map(student_voice).collect();
                voice.push(&samples);
                n += 960;
                k += 1;
                let due = start + Duration::from_millis(20) * k;
                std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
            }
        })
    };
    // 12 s: the first pause to converge in, the next two to judge.
    let (mut raw, mut left, mut chunks) = (0.0f64, 0.0f64, 0);
    for _ in 0..1200 {
        let mut chunk = mic.next_chunk().unwrap();
        let before: f64 = chunk.samples.iter().map(|s| f64::from(s * s)).sum();
        aec.process(&mut chunk.samples);
        let after: f64 = chunk.samples.iter().map(|s| f64::from(s * s)).sum();
        // The programme's 4 s cycle; its pause is 3.5–4.0 s (skipping 50 ms at the edges).
        let at_ms = (chunk.seq * AUDIO_CHUNK as u64 * 1000 / u64::from(SAMPLE_RATE)) % 4000;
        let in_pause = (3550..3950).contains(&at_ms);
        if in_pause && chunk.seq >= 400 {
            raw += before;
            left += after;
            chunks += 1;
        }
    }
    stop.store(true, Relaxed);
    feeder.join().unwrap();
    let stats = aec.stats();
    let reduction_db = 10.0 * (raw / left.max(1e-12)).log10();
    let echo_dbfs = 10.0 * (raw / (chunks as f64 * AUDIO_CHUNK as f64)).log10();
    eprintln!(
        "echo in the teacher's pauses: {echo_dbfs:.1} dBFS before, {reduction_db:.1} dB removed \
         ({chunks} chunks); AEC3 reports ERLE {:.1} dB, delay {} ms",
        stats.erle_centi_db.load(Relaxed) as f64 / 100.0,
        stats.delay_ms.load(Relaxed)
    );
    assert!(chunks >= 60, "too few pause chunks judged: {chunks}");
    assert!(
        echo_dbfs > -60.0,
        "the echo reached the microphone: {echo_dbfs:.1} dBFS"
    );
    assert!(
        reduction_db > 15.0,
        "only {reduction_db:.1} dB of the student's echo removed"
    );
}
