use std::time::Duration;

/// Audio sample rate everywhere inside Lectern.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 10 ms audio chunk.
pub const AUDIO_CHUNK: usize = 480;

/// One I420 picture: a full-resolution luma plane and two quarter-size chroma planes,
/// tightly packed (stride = width).
#[derive(Clone, PartialEq, Eq)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    /// Counts frames from the source, starting at 0; gaps mean frames were lost.
    pub seq: u64,
    /// Capture time on the session's media clock.
    pub captured_at: Duration,
    /// `width * height` luma bytes, then `width/2 * height/2` U, then as many V.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("seq", &self.seq)
            .field("captured_at", &self.captured_at)
            .finish_non_exhaustive()
    }
}

impl VideoFrame {
    /// A mid-grey frame. Width and height are rounded down to even numbers.
    pub fn grey(width: u32, height: u32) -> Self {
        let (width, height) = (width & !1, height & !1);
        let luma = (width * height) as usize;
        let mut data = vec![128; luma + luma / 2];
        data[..luma].fill(128);
        Self {
            width,
            height,
            seq: 0,
            captured_at: Duration::ZERO,
            data,
        }
    }

    /// The luma plane.
    pub fn y(&self) -> &[u8] {
        &self.data[..self.luma_len()]
    }

    /// The U plane.
    pub fn u(&self) -> &[u8] {
        let l = self.luma_len();
        &self.data[l..l + l / 4]
    }

    /// The V plane.
    pub fn v(&self) -> &[u8] {
        let l = self.luma_len();
        &self.data[l + l / 4..]
    }

    /// Mutable luma plane.
    pub fn y_mut(&mut self) -> &mut [u8] {
        let l = self.luma_len();
        &mut self.data[..l]
    }

    /// Mutable U and V planes.
    pub fn uv_mut(&mut self) -> (&mut [u8], &mut [u8]) {
        let l = self.luma_len();
        let (u, v) = self.data[l..].split_at_mut(l / 4);
        (u, v)
    }

    fn luma_len(&self) -> usize {
        (self.width * self.height) as usize
    }
}

impl openh264::formats::YUVSource for VideoFrame {
    fn dimensions(&self) -> (usize, usize) {
        (self.width as usize, self.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let w = self.width as usize;
        (w, w / 2, w / 2)
    }

    fn y(&self) -> &[u8] {
        VideoFrame::y(self)
    }

    fn u(&self) -> &[u8] {
        VideoFrame::u(self)
    }

    fn v(&self) -> &[u8] {
        VideoFrame::v(self)
    }
}

/// 10 ms of mono audio at 48 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioChunk {
    /// Counts chunks from the source, starting at 0.
    pub seq: u64,
    /// Capture time of the first sample on the session's media clock.
    pub captured_at: Duration,
    /// [`AUDIO_CHUNK`] samples in −1.0..=1.0.
    pub samples: Vec<f32>,
}
