//! Pixel and sample format conversions at the device boundary.

/// Converts packed RGB8 to I420 (BT.601 limited range), cropping to even dimensions.
pub fn rgb_to_i420(rgb: &[u8], width: u32, height: u32, out: &mut Vec<u8>) {
    let (w, h) = ((width & !1) as usize, (height & !1) as usize);
    let stride = width as usize * 3;
    out.clear();
    out.resize(w * h + w * h / 2, 0);
    let (y_plane, uv) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = uv.split_at_mut(w * h / 4);
    for row in 0..h {
        let src = &rgb[row * stride..row * stride + w * 3];
        for (col, px) in src.chunks_exact(3).enumerate() {
            let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
            y_plane[row * w + col] = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
        }
    }
    for row in (0..h).step_by(2) {
        for col in (0..w).step_by(2) {
            let (mut r, mut g, mut b) = (0, 0, 0);
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let i = (row + dy) * stride + (col + dx) * 3;
                r += i32::from(rgb[i]);
                g += i32::from(rgb[i + 1]);
                b += i32::from(rgb[i + 2]);
            }
            let (r, g, b) = (r / 4, g / 4, b / 4);
            let i = (row / 2) * (w / 2) + col / 2;
            u_plane[i] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
            v_plane[i] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
        }
    }
}

/// A streaming linear-interpolation resampler from a device rate to 48 kHz.
///
/// Good enough for levels, diagnostics and the speaker test; the class audio path
/// replaces it with a band-limited resampler before encoding.
#[derive(Debug, Clone)]
pub struct Resampler {
    step: f64,
    pos: f64,
    last: f32,
}

impl Resampler {
    /// From `from_hz` to `to_hz`.
    pub fn new(from_hz: u32, to_hz: u32) -> Self {
        Self {
            step: f64::from(from_hz) / f64::from(to_hz),
            pos: 0.0,
            last: 0.0,
        }
    }

    /// True when no conversion is needed.
    pub fn is_identity(&self) -> bool {
        (self.step - 1.0).abs() < f64::EPSILON
    }

    /// Resamples `input`, appending to `out`. Keeps its phase across calls.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.is_identity() {
            out.extend_from_slice(input);
            return;
        }
        // `pos` is measured from the sample before `input[0]` (`self.last`).
        while self.pos < input.len() as f64 {
            let i = self.pos.floor() as usize;
            let frac = (self.pos - i as f64) as f32;
            let a = if i == 0 { self.last } else { input[i - 1] };
            let b = input[i];
            out.push(a + (b - a) * frac);
            self.pos += self.step;
        }
        self.pos -= input.len() as f64;
        if let Some(&l) = input.last() {
            self.last = l;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_and_black_rgb_map_to_video_range_luma() {
        let mut out = Vec::new();
        rgb_to_i420(&[255; 4 * 2 * 3], 4, 2, &mut out);
        assert_eq!(out.len(), 12);
        assert!(out[..8].iter().all(|&y| y == 235), "{out:?}");
        assert!(out[8..].iter().all(|&c| c == 128), "{out:?}");
        rgb_to_i420(&[0; 4 * 2 * 3], 4, 2, &mut out);
        assert!(out[..8].iter().all(|&y| y == 16));
    }

    #[test]
    fn odd_sizes_are_cropped_to_even() {
        let mut out = Vec::new();
        rgb_to_i420(&[10; 5 * 3 * 3], 5, 3, &mut out);
        assert_eq!(out.len(), 4 * 2 + 4 * 2 / 2);
    }

    #[test]
    fn resampler_keeps_duration_across_chunks() {
        let mut r = Resampler::new(44_100, 48_000);
        let mut out = Vec::new();
        for _ in 0..100 {
            r.process(&[0.5; 441], &mut out);
        }
        // One second in, one second out, within a sample.
        assert!((out.len() as i64 - 48_000).abs() <= 1, "{}", out.len());
        assert!(out[10..].iter().all(|&s| (s - 0.5).abs() < 1e-6));
    }
}
