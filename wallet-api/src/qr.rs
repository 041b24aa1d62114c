//! QR codes of payment URIs (PROTOCOL.md §23.7), as PNG and as SVG.
//!
//! The code holds the text's bytes as one byte-mode segment (no ECI: a
//! payment URI is ASCII, so every reader decodes it alike) at error
//! correction level M (about 15% of the code can be lost), in the smallest
//! version that fits, with the quiet zone of 4 light modules a reader needs
//! around it. Both images draw each module as the same square of
//! [`module_px`] pixels, so the PNG is at least [`IMAGE_PX_MIN`] pixels wide.
//!
//! Nothing here panics on any text: a text that does not fit a QR code is
//! [`QrError::TooLong`].

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, Luma};
use qrcode::bits::Bits;
use qrcode::render::{svg, Renderer};
use qrcode::{EcLevel, QrCode, Version};

pub const EC_LEVEL: EcLevel = EcLevel::M;

/// Light modules on each side (ISO/IEC 18004 asks for 4).
pub const QUIET_ZONE_MODULES: u32 = 4;

/// The PNG is at least this many pixels wide (and as high): large enough to
/// scan from a phone's screen without scaling.
pub const IMAGE_PX_MIN: u32 = 256;

/// A module is at least this many pixels wide, so that a long URI's dense
/// code is not drawn with 2-pixel modules that blur when the image is scaled.
pub const MODULE_PX_MIN: u32 = 4;

/// The most bytes a QR code holds in byte mode at level M (version 40).
pub const BYTES_MAX: usize = 2331;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("{len} bytes do not fit a QR code (at most {BYTES_MAX} at error correction M)")]
    TooLong { len: usize },
    #[error("the QR code could not be written as PNG: {0}")]
    Png(String),
}

/// `text` as a QR code in a PNG: 8-bit greyscale, black on white.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = encode(text)?;
    let colors = code.to_colors();
    let module = module_px(&code);
    let image = Renderer::<Luma<u8>>::new(&colors, code.width(), QUIET_ZONE_MODULES)
        .module_dimensions(module, module)
        .build();
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::L8,
        )
        .map_err(|error| QrError::Png(error.to_string()))?;
    Ok(out)
}

/// `text` as a QR code in an SVG document (`<?xml …?><svg …>…</svg>`),
/// black on white, the same size in pixels as [`png`]'s image.
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = encode(text)?;
    let colors = code.to_colors();
    let module = module_px(&code);
    Ok(
        Renderer::<svg::Color<'_>>::new(&colors, code.width(), QUIET_ZONE_MODULES)
            .module_dimensions(module, module)
            .build(),
    )
}

/// The QR code of `text`: one byte-mode segment, level M, the smallest
/// version that holds it. `qrcode`'s own `QrCode::new` would mix numeric and
/// alphanumeric segments in; a single byte segment is what §23.7 specifies
/// and what an independent encoder reproduces.
fn encode(text: &str) -> Result<QrCode, QrError> {
    let too_long = || QrError::TooLong { len: text.len() };
    if text.len() > BYTES_MAX {
        return Err(too_long());
    }
    for version in 1..=40 {
        let mut bits = Bits::new(Version::Normal(version));
        if bits.push_byte_data(text.as_bytes()).is_ok() && bits.push_terminator(EC_LEVEL).is_ok() {
            return QrCode::with_bits(bits, EC_LEVEL).map_err(|_| too_long());
        }
    }
    Err(too_long())
}

/// Pixels per module: the image at least [`IMAGE_PX_MIN`] wide, a module at
/// least [`MODULE_PX_MIN`].
fn module_px_for_width(modules: usize) -> u32 {
    // A QR code is at most 177 modules wide; saturate rather than trust it.
    let across = u32::try_from(modules)
        .unwrap_or(u32::MAX)
        .saturating_add(2 * QUIET_ZONE_MODULES);
    IMAGE_PX_MIN.div_ceil(across).max(MODULE_PX_MIN)
}

fn module_px(code: &QrCode) -> u32 {
    module_px_for_width(code.width())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "cbdc:cbdc1ute2uzn2h388r2yy49su2qz3tavwxzm25kpdmrdk5ev5tcyd94mx5jfjzrm5n8x30lkt2y9wpn4z8ggsar2mjq0c4jkaxz2uww3mjxgfsc9sp?amount=12345&ref=Invoice%202026-001%20Caf%C3%A9%20%E2%98%95&req=rq_00112233445566778899aabbccddeeff&exp=1767225600";

    /// Reads the PNG back with an independent decoder: (text, ECC level as
    /// its format bits: 0 is M, 1 L, 2 H, 3 Q; image width).
    fn read_png(png: &[u8]) -> (String, u16, u32) {
        let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .expect("a PNG")
            .to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            usize::try_from(image.width()).unwrap(),
            usize::try_from(image.height()).unwrap(),
            |x, y| image.get_pixel(u32::try_from(x).unwrap(), u32::try_from(y).unwrap())[0],
        );
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (meta, text) = grids[0].decode().expect("the code decodes");
        (text, meta.ecc_level, image.width())
    }

    #[test]
    fn the_png_decodes_to_the_uri_at_level_m() {
        let png = png(URI).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let (text, ecc_level, width) = read_png(&png);
        assert_eq!(text, URI);
        assert_eq!(ecc_level, 0, "error correction M");
        assert!(width >= IMAGE_PX_MIN, "{width}");
    }

    #[test]
    fn short_and_long_texts_decode_too() {
        let longest_uri = format!("cbdc:{}", "a".repeat(crate::uri::URI_LEN_MAX - 5));
        for text in ["cbdc:x", &URI[..119], &longest_uri] {
            let png = png(text).unwrap();
            let (decoded, _, width) = read_png(&png);
            assert_eq!(decoded, text);
            assert!(width >= IMAGE_PX_MIN, "{width}");
        }
    }

    #[test]
    fn the_code_is_one_byte_segment_at_level_m_of_the_smallest_version() {
        let code = encode(URI).unwrap();
        assert_eq!(code.error_correction_level(), EcLevel::M);
        // 234 bytes: version 11 holds 251 at M, version 10 only 213.
        assert_eq!(URI.len(), 234);
        assert_eq!(code.version(), Version::Normal(11));
        // 100 digits need version 6 in byte mode (106 bytes at M); numeric
        // mode, which `QrCode::new` would choose, fits them in version 3.
        let digits = "7".repeat(100);
        assert_eq!(encode(&digits).unwrap().version(), Version::Normal(6));
        // The longest payment URI is a version 26 code (121 modules).
        let longest_uri = "a".repeat(crate::uri::URI_LEN_MAX);
        assert_eq!(encode(&longest_uri).unwrap().version(), Version::Normal(26));
        assert_eq!(
            QrCode::with_error_correction_level(&digits, EcLevel::M)
                .unwrap()
                .version(),
            Version::Normal(3)
        );
    }

    #[test]
    fn module_size_and_quiet_zone() {
        let code = encode(URI).unwrap();
        let modules = code.width();
        assert_eq!(modules, 61);
        let module = module_px(&code);
        assert_eq!(module, 4);
        let image = image::load_from_memory(&png(URI).unwrap())
            .unwrap()
            .to_luma8();
        let across = u32::try_from(modules).unwrap() + 2 * QUIET_ZONE_MODULES;
        assert_eq!(image.width(), across * module);
        assert_eq!(image.height(), image.width());
        // The quiet zone is light all round; the top-left finder starts dark
        // right after it.
        let zone = QUIET_ZONE_MODULES * module;
        for i in 0..image.width() {
            for j in 0..zone {
                for (x, y) in [
                    (i, j),
                    (j, i),
                    (i, image.width() - 1 - j),
                    (image.width() - 1 - j, i),
                ] {
                    assert_eq!(image.get_pixel(x, y)[0], 255, "({x}, {y})");
                }
            }
        }
        assert_eq!(image.get_pixel(zone, zone)[0], 0);
        // A version 1 code (21 modules) gets larger modules, a version 40
        // one the smallest.
        assert_eq!(module_px_for_width(21), 9);
        assert_eq!(module_px_for_width(177), MODULE_PX_MIN);
        assert_eq!(module_px_for_width(usize::MAX), MODULE_PX_MIN);
    }

    #[test]
    fn the_svg_is_a_document_of_the_same_size() {
        let svg = svg(URI).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("</svg>").count(), 1);
        let side = (61 + 2 * QUIET_ZONE_MODULES) * 4;
        assert!(
            svg.contains(&format!(r#"width="{side}" height="{side}""#)),
            "{svg}"
        );
        assert!(svg.contains(r##"fill="#000""##));
    }

    #[test]
    fn a_text_too_long_is_an_error_not_a_panic() {
        let most = "a".repeat(BYTES_MAX);
        assert!(encode(&most).is_ok());
        assert_eq!(encode(&most).unwrap().version(), Version::Normal(40));
        for len in [BYTES_MAX + 1, 3000, 1 << 20] {
            let text = "a".repeat(len);
            assert_eq!(png(&text), Err(QrError::TooLong { len }));
            assert_eq!(svg(&text), Err(QrError::TooLong { len }));
        }
        // The empty text is a (version 1) code, not an error.
        assert!(png("").is_ok());
    }
}
