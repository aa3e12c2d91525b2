//! QR codes for voucher tokens: version 8 at error correction Q (the 150-character token fits
//! with 25% recovery), a quiet zone of 4 modules, rendered as SVG (crisp at any size, for pages
//! and the printed letter) and as PNG.

use qrcode::{Color, EcLevel, QrCode, Version};

/// Modules of white space around the code, as the standard asks.
pub const QUIET_ZONE: usize = 4;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text does not fit any QR code.
    #[error("text does not fit a QR code")]
    TooLong,
    /// PNG encoding failed.
    #[error("PNG encoding failed")]
    Png,
}

/// The module matrix (true = dark), without quiet zone, and its width.
pub fn modules(text: &str) -> Result<(Vec<bool>, usize), QrError> {
    // Tokens always fit 8-Q (one size for every printed letter); longer text (an otpauth URI)
    // gets the smallest version that holds it at level M.
    let code = QrCode::with_version(text.as_bytes(), Version::Normal(8), EcLevel::Q)
        .or_else(|_| QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M))
        .map_err(|_| QrError::TooLong)?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok((dark, width))
}

/// A code as people read and type it: in groups of five characters.
pub fn grouped(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 5);
    for (i, c) in code.chars().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// An SVG image of the code, one unit per module, scalable. `label` is read out by screen readers.
pub fn svg(text: &str, label: &str) -> Result<String, QrError> {
    // Encoding a code (eight masks tried) takes a few milliseconds; the same token is drawn
    // again and again (a parent reopening the page, a letter printed twice), so the last
    // drawings are kept. Bounded: the map starts afresh when it is full.
    const KEEP: usize = 2048;
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<(String, String), String>>,
    > = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (text.to_owned(), label.to_owned());
    if let Ok(map) = cache.lock()
        && let Some(hit) = map.get(&key)
    {
        return Ok(hit.clone());
    }
    let drawn = draw_svg(text, label)?;
    if let Ok(mut map) = cache.lock() {
        if map.len() >= KEEP {
            map.clear();
        }
        map.insert(key, drawn.clone());
    }
    Ok(drawn)
}

fn draw_svg(text: &str, label: &str) -> Result<String, QrError> {
    let (dark, width) = modules(text)?;
    let size = width + 2 * QUIET_ZONE;
    let mut path = String::with_capacity(width * width * 4);
    for y in 0..width {
        let mut x = 0;
        while x < width {
            if dark[y * width + x] {
                let start = x;
                while x < width && dark[y * width + x] {
                    x += 1;
                }
                path.push_str(&format!(
                    "M{} {}h{}v1h-{}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE,
                    x - start,
                    x - start
                ));
            } else {
                x += 1;
            }
        }
    }
    let label = escape(label);
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" role=\"img\" \
         aria-label=\"{label}\" shape-rendering=\"crispEdges\"><title>{label}</title>\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// A PNG image of the code with `scale` pixels per module.
pub fn png(text: &str, scale: usize) -> Result<Vec<u8>, QrError> {
    let (dark, width) = modules(text)?;
    let scale = scale.clamp(1, 32);
    let side = (width + 2 * QUIET_ZONE) * scale;
    let mut pixels = vec![255u8; side * side];
    for y in 0..width {
        for x in 0..width {
            if dark[y * width + x] {
                for dy in 0..scale {
                    let row = ((y + QUIET_ZONE) * scale + dy) * side;
                    let col = (x + QUIET_ZONE) * scale;
                    pixels[row + col..row + col + scale].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|_| QrError::Png)?;
        w.write_image_data(&pixels).map_err(|_| QrError::Png)?;
    }
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let cats = crate::core::category::CategorySet::from_mask(0b0111).unwrap();
        crate::core::token::VoucherToken::sign(
            &key,
            uuid::Uuid::from_u128(42),
            1_900_000_000,
            cats,
            3,
        )
        .encode()
    }

    fn decode(img: image::GrayImage) -> String {
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (meta, content) = grids[0].decode().expect("decodes");
        assert_eq!(meta.version.0, 8);
        assert_eq!(meta.ecc_level, 3, "error correction Q");
        content
    }

    #[test]
    fn png_decodes_back_to_the_token_with_a_real_decoder() {
        let t = token();
        assert_eq!(t.len(), 150);
        for scale in [2, 4, 8] {
            let bytes = png(&t, scale).unwrap();
            let img = image::load_from_memory(&bytes).unwrap().to_luma8();
            assert_eq!(img.width() as usize, (49 + 8) * scale);
            assert_eq!(decode(img), t);
        }
    }

    #[test]
    fn svg_draws_the_same_modules_and_decodes_back() {
        let t = token();
        let s = svg(&t, "QR-code van de voucher").unwrap();
        assert!(s.starts_with("<svg") && s.contains("role=\"img\"") && s.contains("<title>"));
        // Rasterise the path ourselves (it only uses M x y h n v1 h-n z) and decode it.
        let d = s.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let side = 49 + 8;
        let scale = 4;
        let mut img = image::GrayImage::from_pixel(
            (side * scale) as u32,
            (side * scale) as u32,
            image::Luma([255]),
        );
        for cmd in d.split('z').filter(|c| !c.is_empty()) {
            let nums: Vec<usize> = cmd
                .trim_start_matches('M')
                .split([' ', 'h', 'v'])
                .filter(|t| !t.is_empty() && !t.starts_with('-'))
                .map(|t| t.parse().unwrap())
                .collect();
            let (x, y, w) = (nums[0], nums[1], nums[2]);
            for px in x * scale..(x + w) * scale {
                for py in y * scale..(y + 1) * scale {
                    img.put_pixel(px as u32, py as u32, image::Luma([0]));
                }
            }
        }
        assert_eq!(decode(img), t);
        let (dark, width) = modules(&t).unwrap();
        assert_eq!(width, 49, "version 8 is 49 modules wide");
        assert!(dark.iter().any(|d| *d));
    }

    #[test]
    fn labels_are_escaped() {
        let s = svg(&token(), "<script>\"&").unwrap();
        assert!(!s.contains("<script>"));
    }
}
