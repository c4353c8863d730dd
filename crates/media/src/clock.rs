use std::time::{Duration, Instant};

/// The one media clock: every frame, audio chunk and (later) whiteboard op is stamped
/// with the time elapsed since its origin.
#[derive(Debug, Clone, Copy)]
pub struct MediaClock {
    origin: Instant,
}

impl MediaClock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// A clock whose zero is `origin`.
    pub fn from_origin(origin: Instant) -> Self {
        Self { origin }
    }

    /// Time since the origin.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The media time of an instant; zero for instants before the origin.
    pub fn at(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.origin)
    }

    /// The instant of a media time.
    pub fn instant(&self, at: Duration) -> Instant {
        self.origin + at
    }
}
