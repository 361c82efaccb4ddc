//! `fieldsync-bench uploads`: photos through the tus endpoint of a server
//! running as a child process (so its memory is its own), over loopback.
//!
//! Each upload is a POST, a PATCH with all bytes but the last, and a PATCH
//! with the last byte, so the transfer and the completion (hashing, checks,
//! re-encoding, storing three forms) are timed apart.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use serde::Serialize;

use crate::demo;
use crate::server::{ChildServer, ServerArgs};

/// Flags of `fieldsync-bench uploads`.
#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// Size of each photo (a 12-megapixel JPEG), in MB
    #[arg(long, default_value_t = 5.0)]
    pub photo_mb: f64,
    /// Uploads at once in the concurrent round (each a different photo)
    #[arg(long, default_value_t = 100)]
    pub concurrent: usize,
    /// Write the figures as JSON here
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The figures of one round of uploads.
#[derive(Debug, Serialize)]
pub struct RoundFigures {
    /// Uploads at once.
    pub uploads: usize,
    /// Their bytes together, in MB.
    pub total_mb: f64,
    /// Bytes over the time until every byte was received (before completion).
    pub transfer_mb_s: f64,
    /// Bytes over the time until every upload was a stored blob.
    pub end_to_end_mb_s: f64,
    /// From the round's start until the last upload was a stored blob.
    pub wall_s: f64,
    /// Per upload: the last PATCH (checks, re-encoding, storing), in ms.
    pub completion_ms_p50: f64,
    /// See `completion_ms_p50`.
    pub completion_ms_max: f64,
    /// Server peak resident set (VmHWM) after the round, in MB.
    pub server_peak_rss_mb: f64,
    /// Server CPU seconds the round took.
    pub server_cpu_s: f64,
}

/// The figures of one `uploads` run.
#[derive(Debug, Serialize)]
pub struct UploadFigures {
    /// Size of the first photo (the others are within a few percent).
    pub photo_bytes: usize,
    /// Its pixels across.
    pub photo_width: u32,
    /// Its pixels down.
    pub photo_height: u32,
    /// One upload alone.
    pub single: RoundFigures,
    /// `--concurrent` uploads at once.
    pub concurrent: RoundFigures,
    /// Server resident set after both rounds, in MB.
    pub server_rss_after_mb: f64,
}

/// Runs the benchmark.
pub async fn run(args: &UploadArgs) -> anyhow::Result<UploadFigures> {
    if args.concurrent == 0 || args.photo_mb <= 0.0 {
        bail!("--concurrent and --photo-mb must be positive");
    }
    let binary = args.server.binary()?;
    bench(args, &binary).await
}

/// Prints the figures as a table.
pub fn print(f: &UploadFigures) {
    println!(
        "fieldsync-bench uploads — {:.1} MB photos ({}×{} JPEG), loopback",
        f.photo_bytes as f64 / 1e6,
        f.photo_width,
        f.photo_height
    );
    for (label, r) in [("1 upload", &f.single), ("concurrent", &f.concurrent)] {
        let label = format!("{label} ×{}", r.uploads);
        crate::print_rows(
            42,
            [
                ("transfer (MB/s)", format!("{:.1}", r.transfer_mb_s)),
                ("end to end (MB/s)", format!("{:.1}", r.end_to_end_mb_s)),
                ("wall (s)", format!("{:.2}", r.wall_s)),
                ("completion p50 (ms)", format!("{:.0}", r.completion_ms_p50)),
                ("completion max (ms)", format!("{:.0}", r.completion_ms_max)),
                ("server CPU (s)", format!("{:.2}", r.server_cpu_s)),
                (
                    "server peak RSS (MB)",
                    format!("{:.1}", r.server_peak_rss_mb),
                ),
            ]
            .map(|(name, value)| (format!("{label}: {name}"), value)),
        );
    }
    crate::print_rows(
        42,
        [(
            "server RSS after (MB)",
            format!("{:.1}", f.server_rss_after_mb),
        )],
    );
}

async fn bench(args: &UploadArgs, binary: &std::path::Path) -> anyhow::Result<UploadFigures> {
    let target = (args.photo_mb * 1e6) as usize;
    let (width, height) = (4000, 3000);
    eprintln!(
        "making {} photos of about {:.1} MB…",
        args.concurrent + 1,
        args.photo_mb
    );
    let amplitude = calibrate(width, height, target)?;
    let photos: Vec<Bytes> = (0..=args.concurrent as u64)
        .map(|seed| photo(width, height, amplitude, seed).map(Bytes::from))
        .collect::<anyhow::Result<_>>()?;

    let dir = tempfile::tempdir()?;
    let server = ChildServer::spawn(binary, &dir.path().join("server"), None)?;
    let http = reqwest::Client::new();
    let token = demo::access_token(&http, &server.url, demo::VOLUNTEER, "bench-uploads").await?;
    let client = Uploader {
        http,
        base: server.url.clone(),
        token,
    };

    let single = round(&client, &server, &photos[..1]).await?;
    let concurrent = round(&client, &server, &photos[1..]).await?;
    Ok(UploadFigures {
        photo_bytes: photos[0].len(),
        photo_width: width,
        photo_height: height,
        single,
        concurrent,
        server_rss_after_mb: server.rss_mb().0,
    })
}

/// Uploads every photo at once.
async fn round(
    client: &Uploader,
    server: &ChildServer,
    photos: &[Bytes],
) -> anyhow::Result<RoundFigures> {
    let cpu = server.cpu_s();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for bytes in photos {
        let client = client.clone();
        let bytes = bytes.clone();
        tasks.spawn(async move { client.upload(bytes, start).await });
    }
    let mut timings = Vec::with_capacity(photos.len());
    while let Some(t) = tasks.join_next().await {
        timings.push(t??);
    }
    let wall = start.elapsed();
    let total: usize = photos.iter().map(Bytes::len).sum();
    let mb = total as f64 / 1e6;
    let transferred = timings
        .iter()
        .map(|t| t.transferred)
        .max()
        .unwrap_or_default();
    let mut completions: Vec<f64> = timings
        .iter()
        .map(|t| t.completion.as_secs_f64() * 1000.0)
        .collect();
    completions.sort_by(f64::total_cmp);
    Ok(RoundFigures {
        uploads: photos.len(),
        total_mb: mb,
        transfer_mb_s: mb / transferred.as_secs_f64(),
        end_to_end_mb_s: mb / wall.as_secs_f64(),
        wall_s: wall.as_secs_f64(),
        completion_ms_p50: completions[completions.len() / 2],
        completion_ms_max: completions.last().copied().unwrap_or_default(),
        server_peak_rss_mb: server.rss_mb().1,
        server_cpu_s: server.cpu_s() - cpu,
    })
}

/// A tus client of one user's device.
#[derive(Clone)]
pub(crate) struct Uploader {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

pub(crate) struct Timing {
    /// The blob the upload became (sha256, hex).
    pub(crate) hash: String,
    /// From the round's start until the server had all but the last byte.
    transferred: Duration,
    /// The last PATCH: completion on the server.
    completion: Duration,
}

impl Uploader {
    async fn patch(
        &self,
        location: &str,
        offset: usize,
        chunk: Bytes,
    ) -> anyhow::Result<reqwest::Response> {
        let resp = self
            .http
            .patch(format!("{}{location}", self.base))
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .body(chunk)
            .send()
            .await?;
        if resp.status() != reqwest::StatusCode::NO_CONTENT {
            bail!("PATCH answered {}: {}", resp.status(), resp.text().await?);
        }
        Ok(resp)
    }

    /// Uploads `bytes` (all but the last byte, then the last); `start` is
    /// when the caller started waiting.
    pub(crate) async fn upload(&self, bytes: Bytes, start: Instant) -> anyhow::Result<Timing> {
        let resp = self
            .http
            .post(format!("{}/api/v1/uploads", self.base))
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", bytes.len())
            .send()
            .await?
            .error_for_status()?;
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("no Location")?
            .to_owned();
        let last = bytes.len() - 1;
        self.patch(&location, 0, bytes.slice(..last)).await?;
        let transferred = start.elapsed();
        let t = Instant::now();
        let done = self.patch(&location, last, bytes.slice(last..)).await?;
        let completion = t.elapsed();
        let hash = done
            .headers()
            .get("fieldsync-blob-hash")
            .and_then(|v| v.to_str().ok())
            .context("the last PATCH did not name the stored blob")?
            .to_owned();
        Ok(Timing {
            hash,
            transferred,
            completion,
        })
    }
}

/// A photo-like JPEG: gradients under noise of `amplitude`, different for
/// each seed.
pub(crate) fn photo(width: u32, height: u32, amplitude: u32, seed: u64) -> anyhow::Result<Vec<u8>> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        // xorshift64: fast, and good enough for picture noise.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let n = noise();
        let base = [x * 255 / width, y * 255 / height, (x + y) % 256];
        let mut px = [0u8; 3];
        for (i, b) in base.iter().enumerate() {
            let jitter = ((n >> (i * 16)) & 0xFFFF) as u32 % (2 * amplitude + 1);
            px[i] = (b + jitter).saturating_sub(amplitude).min(255) as u8;
        }
        image::Rgb(px)
    });
    let mut out = Vec::new();
    img.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 92))?;
    Ok(out)
}

/// The noise amplitude that makes a photo of about `target` bytes.
fn calibrate(width: u32, height: u32, target: usize) -> anyhow::Result<u32> {
    let (mut lo, mut hi) = (0u32, 128u32);
    let mut best = (usize::MAX, hi);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        let size = photo(width, height, mid, 0)?.len();
        best = best.min((size.abs_diff(target), mid));
        if size < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(best.1)
}
