//! The synthetic camera's picture: moving colour bars, a seven-segment frame counter,
//! and a barcode strip carrying the frame number and capture time so a receiver can
//! read them back after encoding.

use crate::VideoFrame;

/// Bits in the barcode: 24 for the frame counter, 40 for the capture time in µs.
pub const BARCODE_BITS: usize = 64;
/// The barcode is one row of cells along the bottom edge, each `width / CELLS_ACROSS`
/// wide and as tall, so it scales with the picture: a receiver reads it back from a
/// frame the encoder scaled down (720p → 360p) without knowing the source size.
const CELLS_ACROSS: u32 = 80;
const BAR_COLOURS: [(u8, u8, u8); 8] = [
    (235, 128, 128), // white
    (210, 16, 146),  // yellow
    (170, 166, 16),  // cyan
    (145, 54, 34),   // green
    (106, 202, 222), // magenta
    (81, 90, 240),   // red
    (41, 240, 110),  // blue
    (40, 128, 128),  // dark grey
];

/// Paints the test pattern for frame `seq` captured at `micros` into `frame`.
pub fn paint(frame: &mut VideoFrame, seq: u64, micros: u64) {
    let (w, h) = (frame.width, frame.height);
    let shift = (seq * 4) as u32 % w.max(1);
    let bar_w = (w / 8).max(1);
    {
        let y = frame.y_mut();
        for row in 0..h {
            let line = &mut y[(row * w) as usize..((row + 1) * w) as usize];
            for (col, px) in line.iter_mut().enumerate() {
                let bar = (((col as u32 + shift) / bar_w) % 8) as usize;
                *px = BAR_COLOURS[bar].0;
            }
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    let (u, v) = frame.uv_mut();
    for row in 0..ch {
        for col in 0..cw {
            let bar = (((col * 2 + shift) / bar_w) % 8) as usize;
            let i = (row * cw + col) as usize;
            u[i] = BAR_COLOURS[bar].1;
            v[i] = BAR_COLOURS[bar].2;
        }
    }
    draw_counter(frame, seq);
    write_barcode(frame, seq, micros);
}

/// Writes the barcode into the bottom strip: one square cell per bit, white for 1.
fn write_barcode(frame: &mut VideoFrame, seq: u64, micros: u64) {
    let value = ((seq & 0xFF_FFFF) << 40) | (micros & 0xFF_FFFF_FFFF);
    let (w, h) = (frame.width, frame.height);
    let cell = w / CELLS_ACROSS;
    if cell < 2 || h < cell * 4 {
        return;
    }
    let top = h - cell;
    let y = frame.y_mut();
    for row in top..h {
        let line = &mut y[(row * w) as usize..((row + 1) * w) as usize];
        line.fill(16);
        for bit in 0..BARCODE_BITS {
            if (value >> (BARCODE_BITS - 1 - bit)) & 1 == 1 {
                let x = bit as u32 * cell;
                line[x as usize..(x + cell) as usize].fill(235);
            }
        }
    }
    let (cw, top_c) = (w / 2, top / 2);
    let (u, v) = frame.uv_mut();
    let start = (top_c * cw) as usize;
    u[start..].fill(128);
    v[start..].fill(128);
}

/// Reads the frame counter and capture time (µs, modulo 2^40) back from a decoded
/// luma plane of any size with the source's aspect ratio, sampling each cell's centre.
pub fn read_barcode(luma: &[u8], width: u32, height: u32) -> Option<(u64, u64)> {
    let cell = f64::from(width) / f64::from(CELLS_ACROSS);
    if cell < 2.0 || f64::from(height) < cell * 4.0 || luma.len() < (width * height) as usize {
        return None;
    }
    let row = (f64::from(height) - cell / 2.0) as u32;
    let mut value = 0u64;
    for bit in 0..BARCODE_BITS {
        let x = ((bit as f64 + 0.5) * cell) as u32;
        let px = luma[(row * width + x) as usize];
        value = (value << 1) | u64::from(px > 126);
    }
    Some((value >> 40, value & 0xFF_FFFF_FFFF))
}

/// Seven-segment digits, segments a..g as bits 0..6.
const DIGITS: [u8; 10] = [
    0b011_1111, 0b000_0110, 0b101_1011, 0b100_1111, 0b110_0110, 0b110_1101, 0b111_1101, 0b000_0111,
    0b111_1111, 0b110_1111,
];

/// Draws the frame counter as six seven-segment digits on a dark plate, top left.
fn draw_counter(frame: &mut VideoFrame, seq: u64) {
    let w = frame.width;
    let scale = (frame.height / 90).max(1);
    let (dw, dh, t) = (6 * scale, 10 * scale, scale.max(1));
    let (x0, y0) = (4 * scale, 4 * scale);
    let plate_w = 6 * (dw + 3 * scale) + 2 * scale;
    let plate_h = dh + 4 * scale;
    if x0 + plate_w >= w || y0 + plate_h >= frame.height {
        return;
    }
    fill(frame, x0, y0, plate_w, plate_h, 16);
    // Neutral chroma under the plate, so the digits read white on black.
    let cw = (w / 2) as usize;
    let (u, v) = frame.uv_mut();
    for row in (y0 / 2)..(y0 + plate_h).div_ceil(2) {
        let start = row as usize * cw + (x0 / 2) as usize;
        let end = start + plate_w.div_ceil(2) as usize;
        u[start..end].fill(128);
        v[start..end].fill(128);
    }
    let digits = format!("{:06}", seq % 1_000_000);
    for (i, ch) in digits.bytes().enumerate() {
        let segs = DIGITS[(ch - b'0') as usize];
        let x = x0 + 2 * scale + i as u32 * (dw + 3 * scale);
        let y = y0 + 2 * scale;
        let half = dh / 2;
        let rects = [
            (x, y, dw, t),                   // a
            (x + dw - t, y, t, half),        // b
            (x + dw - t, y + half, t, half), // c
            (x, y + dh - t, dw, t),          // d
            (x, y + half, t, half),          // e
            (x, y, t, half),                 // f
            (x, y + half - t / 2, dw, t),    // g
        ];
        for (bit, &(rx, ry, rw, rh)) in rects.iter().enumerate() {
            if segs & (1 << bit) != 0 {
                fill(frame, rx, ry, rw, rh, 235);
            }
        }
    }
}

fn fill(frame: &mut VideoFrame, x: u32, y: u32, w: u32, h: u32, luma: u8) {
    let stride = frame.width;
    let plane = frame.y_mut();
    for row in y..y + h {
        let start = (row * stride + x) as usize;
        plane[start..start + w as usize].fill(luma);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcode_round_trips() {
        let mut f = VideoFrame::grey(1280, 720);
        paint(&mut f, 123_456, 987_654_321);
        assert_eq!(read_barcode(f.y(), 1280, 720), Some((123_456, 987_654_321)));
        let mut small = VideoFrame::grey(320, 180);
        paint(&mut small, 7, 1);
        assert_eq!(read_barcode(small.y(), 320, 180), Some((7, 1)));
        // A 720p picture scaled to 360p (every other pixel) still reads.
        let half: Vec<u8> = (0..360)
            .flat_map(|r| {
                f.y()[r * 2 * 1280..(r * 2 + 1) * 1280]
                    .iter()
                    .step_by(2)
                    .copied()
            })
            .collect();
        assert_eq!(read_barcode(&half, 640, 360), Some((123_456, 987_654_321)));
    }

    #[test]
    fn bars_move_between_frames() {
        let mut a = VideoFrame::grey(640, 360);
        let mut b = VideoFrame::grey(640, 360);
        paint(&mut a, 0, 0);
        paint(&mut b, 1, 33_333);
        let differing = a.y().iter().zip(b.y()).filter(|(x, y)| x != y).count();
        // Bars moving 4 px change ≈ 8 edges × 4 px × 340 rows ≈ 11 000 pixels; the counter
        // and the barcode alone change under 2 000.
        assert!(differing > 640 * 360 / 40, "{differing}");
    }
}
