//! Checks an uploaded image and re-encodes it from its pixels: the format is
//! sniffed from the bytes, the size is bounded before anything is decoded
//! (decompression bombs), the EXIF orientation is applied, and the stored
//! forms carry no metadata at all.
//!
//! Blocking and CPU-heavy: run it off the async reactor.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use super::Variant;

/// JPEG quality of the stored forms.
const JPEG_QUALITY: u8 = 88;

/// What an image may be.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub max_side: u32,
}

/// An accepted image in its stored forms.
#[derive(Debug)]
pub struct Processed {
    /// Pixels of the original after orientation.
    pub width: u32,
    pub height: u32,
    /// Media type of every stored form (`image/png` for PNG uploads, else
    /// `image/jpeg`).
    pub mime: &'static str,
    pub original: Vec<u8>,
    pub display: Vec<u8>,
    pub thumb: Vec<u8>,
}

/// Why an upload is not stored. Every one but `Io` is the uploader's to fix.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    NotAnImage(String),
    #[error("{0}")]
    UnsupportedFormat(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Invalid(String),
    #[error("reading the upload: {0}")]
    Io(#[from] std::io::Error),
}

impl Rejection {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotAnImage(_) => "not_an_image",
            Rejection::UnsupportedFormat(_) => "unsupported_format",
            Rejection::TooLarge(_) => "image_too_large",
            Rejection::Invalid(_) => "invalid_image",
            Rejection::Io(_) => "internal",
        }
    }
}

/// Checks the image in `path` and encodes its stored forms.
pub fn process(path: &Path, limits: &ImageLimits) -> Result<Processed, Rejection> {
    let size = std::fs::metadata(path)?.len();
    if size > limits.max_bytes {
        return Err(Rejection::TooLarge(format!(
            "the file has {size} bytes; at most {} are accepted",
            limits.max_bytes
        )));
    }
    let format = sniff(path)?;
    if format == ImageFormat::Jpeg {
        check_jpeg_end(path, size)?;
    }
    let (width, height) = open(path, format)?
        .into_dimensions()
        .map_err(decode_error)?;
    check_dimensions(width, height, limits)?;

    let mut reader = open(path, format)?;
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    // The bitmap at 8 bytes a pixel (16-bit RGBA) is the most a decoder needs.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(decoder_limits.clone());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    decoder_limits
        .reserve(decoder.total_bytes())
        .map_err(decode_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);

    let png = format == ImageFormat::Png;
    let display = fit(&img, Variant::DISPLAY_EDGE);
    let thumb = fit(display.as_ref().unwrap_or(&img), Variant::THUMB_EDGE);
    Ok(Processed {
        width: img.width(),
        height: img.height(),
        mime: if png { "image/png" } else { "image/jpeg" },
        original: encode(&img, png)?,
        display: encode(display.as_ref().unwrap_or(&img), png)?,
        thumb: encode(thumb.as_ref().or(display.as_ref()).unwrap_or(&img), png)?,
    })
}

fn open(path: &Path, format: ImageFormat) -> Result<ImageReader<BufReader<File>>, Rejection> {
    Ok(ImageReader::with_format(
        BufReader::new(File::open(path)?),
        format,
    ))
}

/// The format from the file's first bytes; only JPEG, PNG and WebP pass.
fn sniff(path: &Path) -> Result<ImageFormat, Rejection> {
    let mut head = Vec::with_capacity(32);
    File::open(path)?.take(32).read_to_end(&mut head)?;
    if let Some(brand) = heif_brand(&head) {
        return Err(Rejection::UnsupportedFormat(format!(
            "HEIC/HEIF photos ({brand}) are not accepted: send JPEG, PNG or WebP \
             (on an iPhone: Settings → Camera → Formats → Most Compatible)"
        )));
    }
    match image::guess_format(&head) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(f),
        Ok(other) => Err(Rejection::UnsupportedFormat(format!(
            "{other:?} images are not accepted: send JPEG, PNG or WebP"
        ))),
        Err(_) => Err(Rejection::NotAnImage(
            "the file is not an image: it starts with no JPEG, PNG or WebP signature".into(),
        )),
    }
}

/// The brand of an ISO-BMFF image (HEIC, HEIF, AVIF), if the file is one.
fn heif_brand(head: &[u8]) -> Option<String> {
    const BRANDS: [&[u8; 4]; 9] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif",
    ];
    let brand = head.get(8..12)?;
    (head.get(4..8)? == b"ftyp" && BRANDS.iter().any(|b| b.as_slice() == brand))
        .then(|| String::from_utf8_lossy(brand).into_owned())
}

/// A JPEG must end with its end-of-image marker (zero padding allowed): the
/// decoder fills a cut-off scan with grey instead of failing.
fn check_jpeg_end(path: &Path, size: u64) -> Result<(), Rejection> {
    let mut file = File::open(path)?;
    let tail_len = size.min(64 << 10);
    file.seek(SeekFrom::Start(size - tail_len))?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.read_to_end(&mut tail)?;
    let end = tail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end >= 2 && tail[end - 2..end] == [0xFF, 0xD9] {
        Ok(())
    } else {
        Err(Rejection::Invalid(
            "the JPEG is truncated: it has no end-of-image marker".into(),
        ))
    }
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<(), Rejection> {
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_side || height > limits.max_side || pixels > limits.max_pixels {
        return Err(Rejection::TooLarge(format!(
            "the image declares {width}×{height} pixels; at most {} pixels and {} on a side are accepted",
            limits.max_pixels, limits.max_side
        )));
    }
    if pixels == 0 {
        return Err(Rejection::Invalid("the image has no pixels".into()));
    }
    Ok(())
}

fn decode_error(e: ImageError) -> Rejection {
    match e {
        ImageError::Limits(_) => Rejection::TooLarge(format!(
            "the image needs more memory to decode than allowed: {e}"
        )),
        ImageError::Unsupported(_) => {
            Rejection::UnsupportedFormat(format!("the image uses an unsupported feature: {e}"))
        }
        ImageError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            Rejection::Io(io)
        }
        _ => Rejection::Invalid(format!("the image cannot be decoded: {e}")),
    }
}

/// The image scaled down to at most `edge` pixels on its long side; `None`
/// when it is that small already.
fn fit(img: &DynamicImage, edge: u32) -> Option<DynamicImage> {
    (img.width().max(img.height()) > edge).then(|| img.thumbnail(edge, edge))
}

/// Encodes pixels only: PNG for PNG uploads, else JPEG. No EXIF, ICC or other
/// metadata is written.
fn encode(img: &DynamicImage, png: bool) -> Result<Vec<u8>, Rejection> {
    let mut out = Vec::new();
    let result = if png {
        img.write_with_encoder(PngEncoder::new(&mut out))
    } else {
        let encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        match img {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => {
                img.write_with_encoder(encoder)
            }
            _ => DynamicImage::ImageRgb8(img.to_rgb8()).write_with_encoder(encoder),
        }
    };
    result.map_err(|e| Rejection::Invalid(format!("the image cannot be re-encoded: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heif_brands_are_recognised() {
        let mut head = vec![0, 0, 0, 24];
        head.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert_eq!(heif_brand(&head).as_deref(), Some("heic"));
        head[8..12].copy_from_slice(b"isom");
        assert_eq!(heif_brand(&head), None, "an MP4 video is not an image");
        assert_eq!(heif_brand(b"\xFF\xD8\xFF"), None);
    }
}
