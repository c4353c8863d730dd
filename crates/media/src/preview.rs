use jpeg_encoder::{ColorType, Encoder};

use crate::VideoFrame;

/// Turns camera frames into small JPEGs for the webview preview.
///
/// The frame is box-downscaled to at most `max_width` (keeping the aspect ratio), its
/// planes interleaved to YCbCr and JPEG-compressed without a colour conversion. At
/// 720p → 640×360 this is the whole per-frame cost of the preview on the Rust side.
#[derive(Debug)]
pub struct PreviewEncoder {
    max_width: u32,
    quality: u8,
    ycbcr: Vec<u8>,
}

impl PreviewEncoder {
    /// Previews at most `max_width` pixels wide at JPEG `quality` (1–100).
    pub fn new(max_width: u32, quality: u8) -> Self {
        Self {
            max_width: max_width.max(2),
            quality: quality.clamp(1, 100),
            ycbcr: Vec::new(),
        }
    }

    /// One JPEG for `frame`.
    pub fn encode(&mut self, frame: &VideoFrame) -> Vec<u8> {
        let factor = frame.width.div_ceil(self.max_width).max(1);
        let (w, h) = (frame.width / factor, frame.height / factor);
        self.ycbcr.clear();
        self.ycbcr.reserve((w * h * 3) as usize);
        let (y, u, v) = (frame.y(), frame.u(), frame.v());
        let (fw, cw) = (frame.width as usize, (frame.width / 2) as usize);
        let f = factor as usize;
        for row in 0..h as usize {
            for col in 0..w as usize {
                let (sy, sx) = (row * f, col * f);
                let mut luma = 0u32;
                for dy in 0..f {
                    for dx in 0..f {
                        luma += u32::from(y[(sy + dy) * fw + sx + dx]);
                    }
                }
                let c = (sy / 2) * cw + sx / 2;
                self.ycbcr.push((luma / (factor * factor)) as u8);
                self.ycbcr.push(u[c]);
                self.ycbcr.push(v[c]);
            }
        }
        let mut out = Vec::with_capacity((w * h / 4) as usize);
        let encoder = Encoder::new(&mut out, self.quality);
        // Writing into a Vec cannot fail, and the dimensions fit u16 for any camera frame.
        encoder
            .encode(&self.ycbcr, w as u16, h as u16, ColorType::Ycbcr)
            .expect("JPEG into memory");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_is_a_downscaled_jpeg() {
        let mut p = PreviewEncoder::new(640, 70);
        let jpeg = p.encode(&VideoFrame::grey(1280, 720));
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        // SOF0 carries height then width.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let h = u16::from_be_bytes([jpeg[sof + 5], jpeg[sof + 6]]);
        let w = u16::from_be_bytes([jpeg[sof + 7], jpeg[sof + 8]]);
        assert_eq!((w, h), (640, 360));
    }
}
