//! Photos end to end: uploads over tus (our own requests and tuspy, a stock
//! client), the checks a photo must pass, what is stored (locally and in a
//! real S3-compatible server), and signed links to read it back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fieldsync_server::blobs::Variant;
use fieldsync_server::config::S3Config;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestServer, login_json};

const TUS: &str = "1.0.0";

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sha256_b64(bytes: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(bytes))
}

/// A test photo: left half red, right half blue, with some texture that
/// differs by `seed`.
pub(crate) fn jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let t = ((x * 7 + y * 13 + seed * 31) % 16) as u8;
        if x < width / 2 {
            image::Rgb([230 + t % 8, t, t])
        } else {
            image::Rgb([t, t, 230 + t % 8])
        }
    });
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut out, 92,
    ))
    .unwrap();
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255])
    });
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
        .unwrap();
    out
}

/// A TIFF-structured EXIF block (big-endian) with a camera make, an
/// orientation and a GPS position.
fn exif_with_gps(orientation: u16) -> Vec<u8> {
    fn entry(t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, value: [u8; 4]) {
        t.extend(tag.to_be_bytes());
        t.extend(typ.to_be_bytes());
        t.extend(count.to_be_bytes());
        t.extend(value);
    }
    const ASCII: u16 = 2;
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    let mut t = b"MM\0\x2A".to_vec();
    t.extend(8u32.to_be_bytes());
    // IFD0 at 8: three entries, ends at 8 + 2 + 36 + 4 = 50.
    t.extend(3u16.to_be_bytes());
    entry(&mut t, 0x010F, ASCII, 9, 50u32.to_be_bytes()); // Make
    let o = orientation.to_be_bytes();
    entry(&mut t, 0x0112, SHORT, 1, [o[0], o[1], 0, 0]); // Orientation
    entry(&mut t, 0x8825, LONG, 1, 60u32.to_be_bytes()); // GPS IFD pointer
    t.extend(0u32.to_be_bytes());
    t.extend(b"FieldCam\0\0"); // 50..60
    // GPS IFD at 60: two entries, ends at 60 + 2 + 24 + 4 = 90.
    t.extend(2u16.to_be_bytes());
    entry(&mut t, 0x0001, ASCII, 2, *b"N\0\0\0"); // GPSLatitudeRef
    entry(&mut t, 0x0002, RATIONAL, 3, 90u32.to_be_bytes()); // GPSLatitude
    t.extend(0u32.to_be_bytes());
    for (num, den) in [(31u32, 1u32), (12, 1), (3456, 100)] {
        t.extend(num.to_be_bytes());
        t.extend(den.to_be_bytes());
    }
    t
}

/// `jpeg` with an EXIF APP1 segment right after the start-of-image marker.
fn with_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    out.extend(b"Exif\0\0");
    out.extend(tiff);
    out.extend(&jpeg[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A decompression bomb: a PNG of a few dozen bytes whose header declares
/// `width`×`height` pixels.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib: one stored block holding a single zero byte.
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The first bytes of an iPhone HEIC photo.
fn heic_head() -> Vec<u8> {
    let mut out = vec![0, 0, 0, 24];
    out.extend(b"ftypheic\0\0\0\0mif1heic");
    out.extend([0u8; 200]);
    out
}

/// Files under a directory, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A tus client made of plain HTTP requests, for one user on one device.
pub(crate) struct Tus {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Tus {
    async fn login(server: &TestServer, username: &str, device: &str) -> Tus {
        Tus::login_at(&server.url, username, device).await
    }

    /// Logs in at the server at `base`.
    pub(crate) async fn login_at(base: &str, username: &str, device: &str) -> Tus {
        let login = login_json(base, username, device).await;
        Tus {
            base: base.to_owned(),
            token: login["access_token"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The same user and device, talking to the server at `base`.
    pub(crate) fn at(&self, base: &str) -> Tus {
        Tus {
            base: base.to_owned(),
            token: self.token.clone(),
            http: self.http.clone(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Tus-Resumable", TUS)
    }

    async fn create(&self, length: usize, metadata: &str) -> reqwest::Response {
        let mut req = self
            .request(reqwest::Method::POST, "/api/v1/uploads")
            .header("Upload-Length", length);
        if !metadata.is_empty() {
            req = req.header("Upload-Metadata", metadata);
        }
        req.send().await.unwrap()
    }

    /// Creates an upload; returns its location.
    pub(crate) async fn create_ok(&self, length: usize, metadata: &str) -> String {
        let resp = self.create(length, metadata).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()["tus-resumable"], TUS);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/api/v1/uploads/"), "{location}");
        location
    }

    pub(crate) async fn patch(
        &self,
        location: &str,
        offset: usize,
        chunk: &[u8],
        checksum: Option<String>,
    ) -> reqwest::Response {
        let mut req = self
            .request(reqwest::Method::PATCH, location)
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .body(chunk.to_vec());
        if let Some(c) = checksum {
            req = req.header("Upload-Checksum", c);
        }
        req.send().await.unwrap()
    }

    pub(crate) async fn head(&self, location: &str) -> reqwest::Response {
        self.request(reqwest::Method::HEAD, location)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn offset(&self, location: &str) -> u64 {
        let resp = self.head(location).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Uploads `bytes` in one PATCH; returns the last response.
    async fn upload(&self, bytes: &[u8]) -> reqwest::Response {
        let location = self.create_ok(bytes.len(), "").await;
        self.patch(&location, 0, bytes, None).await
    }

    /// Uploads a photo that must be accepted; returns (hash, stored_as).
    async fn upload_ok(&self, bytes: &[u8]) -> (String, String) {
        let resp = self.upload(bytes).await;
        assert_eq!(
            resp.status(),
            StatusCode::NO_CONTENT,
            "{}",
            resp.text().await.unwrap()
        );
        let header = |n: &str| resp.headers()[n].to_str().unwrap().to_owned();
        assert_eq!(header("upload-offset"), bytes.len().to_string());
        let hash = header("fieldsync-blob-hash");
        assert_eq!(
            hash,
            sha256_hex(bytes),
            "the blob is the hash of the upload"
        );
        (hash, header("fieldsync-blob-stored"))
    }

    /// A signed link to a blob's variant.
    pub(crate) async fn link(&self, hash: &str, variant: &str) -> reqwest::Response {
        self.http
            .get(format!(
                "{}/api/v1/blobs/{hash}/url?variant={variant}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    async fn link_ok(&self, hash: &str, variant: &str) -> String {
        let resp = self.link(hash, variant).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let v: serde_json::Value = resp.json().await.unwrap();
        v["url"].as_str().unwrap().to_owned()
    }

    /// Reads a variant of a blob through a signed link.
    pub(crate) async fn read(
        &self,
        hash: &str,
        variant: &str,
    ) -> (reqwest::header::HeaderMap, Vec<u8>) {
        let url = self.link_ok(hash, variant).await;
        let resp = reqwest::get(format!("{}{url}", self.base)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let headers = resp.headers().clone();
        (headers, resp.bytes().await.unwrap().to_vec())
    }
}

/// Status and stable error code of a refusal.
async fn refusal(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The interpreter of the venv that server/scripts/install-photo-test-tools.sh
/// makes (or `FIELDSYNC_PHOTO_TOOLS_PYTHON`).
fn tools_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let python = std::env::var_os("FIELDSYNC_PHOTO_TOOLS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/tools/venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run server/scripts/install-photo-test-tools.sh (it installs tuspy and \
         moto into target/tools/venv)",
        python.display()
    );
    python
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tus").join(name)
}

/// Runs a helper script with the tools' Python; returns its JSON output.
fn run_python(script_name: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(tools_python())
        .arg(script(script_name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the tools' python");
    assert!(
        out.status.success(),
        "{script_name} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script_name} printed {stdout:?}: {e}"))
}

/// Runs the blocking helper off the test's runtime threads.
async fn python(script_name: &'static str, args: Vec<String>) -> serde_json::Value {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_python(script_name, &args)
    })
    .await
    .unwrap()
}

/// Every blob file under the server's data dir.
pub(crate) fn stored_files(server: &TestServer) -> Vec<PathBuf> {
    files_under(&server.data_dir().join("blobs"))
}

async fn photo_is_stored_clean_and_oriented(backend: Backend) {
    let server = TestServer::start(backend).await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;

    // 40×20, red left, blue right, EXIF: rotate 90° clockwise, a GPS fix,
    // the camera's make.
    let input = with_exif(&jpeg(40, 20, 1), &exif_with_gps(6));
    let exif_in = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&input))
        .expect("the test input carries EXIF");
    assert!(
        exif_in
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some(),
        "the test input has a GPS position"
    );
    let (hash, stored) = phone.upload_ok(&input).await;
    assert_eq!(stored, "new");

    let (headers, original) = phone.read(&hash, "original").await;
    assert_eq!(headers["content-type"], "image/jpeg");
    match exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&original)) {
        Err(_) => {} // no EXIF at all
        Ok(exif) => {
            let left: Vec<_> = exif.fields().map(|f| f.tag).collect();
            panic!("the stored photo still has EXIF: {left:?}");
        }
    }
    assert!(
        !original.windows(8).any(|w| w == b"FieldCam"),
        "the camera make is gone"
    );
    let img = image::load_from_memory(&original).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (20, 40), "orientation 6 applied");
    let (top, bottom) = (img.get_pixel(10, 5), img.get_pixel(10, 34));
    assert!(
        top[0] > 150 && top[2] < 100,
        "the left (red) half is now on top: {top:?}"
    );
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "blue at the bottom: {bottom:?}"
    );

    let meta: serde_json::Value = crate::support::get_with_token(
        &server.url,
        &phone.token,
        &format!("/api/v1/blobs/{hash}/meta"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(meta["width"], 20);
    assert_eq!(meta["height"], 40);
    assert_eq!(meta["size"], input.len());
    assert_eq!(meta["mime"], "image/jpeg");
    assert_eq!(meta["uploaded_by"], "user-demo-volunteer");
    assert_eq!(meta["device_id"], "phone-tang");

    // The same photo again, from another user's phone: stored once.
    let files = stored_files(&server);
    assert_eq!(files.len(), 3, "original, display, thumb: {files:?}");
    let leader = Tus::login(&server, "demo-leader", "phone-zhou").await;
    let (again, stored) = leader.upload_ok(&input).await;
    assert_eq!(
        (again.as_str(), stored.as_str()),
        (hash.as_str(), "existing")
    );
    assert_eq!(stored_files(&server), files, "nothing stored twice");
    let meta: serde_json::Value = crate::support::get_with_token(
        &server.url,
        &phone.token,
        &format!("/api/v1/blobs/{hash}/meta"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        meta["uploaded_by"], "user-demo-volunteer",
        "the first upload's"
    );

    // A large PNG stays PNG; display and thumb are scaled to their edges.
    let big = png(1600, 1200);
    let (png_hash, _) = phone.upload_ok(&big).await;
    for (variant, dims) in [
        ("original", (1600, 1200)),
        ("display", (1280, 960)),
        ("thumb", (320, 240)),
    ] {
        let (headers, bytes) = phone.read(&png_hash, variant).await;
        assert_eq!(headers["content-type"], "image/png", "{variant}");
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
        assert_eq!((img.width(), img.height()), dims, "{variant}");
    }
    server.stop().await;
}
both_backends!(
    photo_is_stored_clean_and_oriented,
    photo_is_stored_clean_and_oriented
);

async fn blob_links_are_signed_expiring_and_ranged(backend: Backend) {
    let server = TestServer::start(backend).await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;
    let photo = jpeg(400, 300, 2);
    let (hash, _) = phone.upload_ok(&photo).await;
    let (_, whole) = phone.read(&hash, "display").await;

    let url = phone.link_ok(&hash, "display").await;
    let get = |url: String, range: Option<String>| {
        let base = server.url.clone();
        async move {
            let mut req = reqwest::Client::new().get(format!("{base}{url}"));
            if let Some(r) = range {
                req = req.header("Range", r);
            }
            req.send().await.unwrap()
        }
    };
    let resp = get(url.clone(), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.contains(&hash), "{etag}");
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.starts_with("private, max-age="), "{cache}");
    assert_eq!(resp.headers()["accept-ranges"], "bytes");

    let part = get(url.clone(), Some("bytes=0-9".into())).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 0-9/{}", whole.len())
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &whole[..10]);
    let tail = get(url.clone(), Some("bytes=-5".into())).await;
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        tail.bytes().await.unwrap().as_ref(),
        &whole[whole.len() - 5..]
    );
    let resp = get(url.clone(), Some(format!("bytes={}-", whole.len()))).await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{}", whole.len())
    );

    let resp = reqwest::Client::new()
        .get(format!("{}{url}", server.url))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // Expired, forged, unsigned, or signed for another variant: 403.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = server
        .state
        .photos
        .links()
        .path(&hash, Variant::Display, now - 10);
    assert_eq!(
        refusal(get(expired, None).await).await,
        (StatusCode::FORBIDDEN, "link_expired".into())
    );
    let mut forged = url.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        refusal(get(forged, None).await).await,
        (StatusCode::FORBIDDEN, "bad_signature".into())
    );
    let later = url.replace("exp=", "exp=9");
    assert_eq!(
        refusal(get(later, None).await).await,
        (StatusCode::FORBIDDEN, "bad_signature".into())
    );
    let other_variant = url.replace("variant=display", "variant=original");
    assert_eq!(
        refusal(get(other_variant, None).await).await,
        (StatusCode::FORBIDDEN, "bad_signature".into())
    );
    assert_eq!(
        refusal(get(format!("/api/v1/blobs/{hash}"), None).await).await,
        (StatusCode::FORBIDDEN, "bad_signature".into())
    );

    // Another community's office: no such photo.
    server
        .state
        .store
        .insert_community("oak", "Oak Street (test)", "Asia/Shanghai", 0)
        .await
        .unwrap();
    server
        .state
        .store
        .insert_user(
            &fieldsync_server::store::UserRow {
                id: "user-oak-office".into(),
                community_id: "oak".into(),
                username: "oak-office".into(),
                display_name: "Oak office".into(),
                role: "office".into(),
                password_hash: fieldsync_server::auth::hash_password(PASSWORD),
                disabled: 0,
            },
            0,
        )
        .await
        .unwrap();
    let oak = Tus::login(&server, "oak-office", "oak-laptop").await;
    assert_eq!(
        refusal(oak.link(&hash, "original").await).await,
        (StatusCode::NOT_FOUND, "blob_not_found".into())
    );
    // Oak uploads the same photo: new to Oak (the answer does not tell that
    // another community has it), not stored again, and now Oak can read it.
    let files = stored_files(&server);
    let (_, stored) = oak.upload_ok(&photo).await;
    assert_eq!(stored, "new");
    assert_eq!(stored_files(&server), files);
    oak.link_ok(&hash, "thumb").await;
    // A volunteer who did not upload it, before any record references it.
    let other = Tus::login(&server, "demo-volunteer-2", "phone-bai").await;
    assert_eq!(
        refusal(other.link(&hash, "thumb").await).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    // The office sees every photo of its community.
    let office = Tus::login(&server, "demo-office", "office-pc").await;
    office.link_ok(&hash, "thumb").await;
    // Without a token: 401.
    let resp = reqwest::get(format!("{}/api/v1/blobs/{hash}/url", server.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}
both_backends!(
    blob_links_are_signed_expiring_and_ranged,
    blob_links_are_signed_expiring_and_ranged
);

async fn bad_uploads_are_refused_and_nothing_is_stored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;

    // Each refused upload: (what, bytes, status, code).
    let good = jpeg(128, 96, 3);
    assert!(good.len() > 2000, "room for two chunks: {}", good.len());
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "decompression bomb",
            png_bomb(50_000, 50_000),
            StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
        ),
        (
            "truncated JPEG",
            jpeg(300, 200, 4)[..2000].to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_image",
        ),
        (
            "a text file named .jpg",
            b"Bikes in stairwell 3, please move them\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_an_image",
        ),
        (
            "HEIC",
            heic_head(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_format",
        ),
    ];
    for (what, bytes, status, code) in &cases {
        let location = phone
            .create_ok(
                bytes.len(),
                "filename d2FsbC5qcGc=,filetype aW1hZ2UvanBlZw==",
            )
            .await;
        let resp = phone.patch(&location, 0, bytes, None).await;
        let (got_status, got_code) = refusal(resp).await;
        assert_eq!((got_status, got_code.as_str()), (*status, *code), "{what}");
        assert_eq!(
            phone.head(&location).await.status(),
            StatusCode::NOT_FOUND,
            "{what}: the upload is gone"
        );
        assert!(
            server
                .state
                .store
                .blob("demo", &sha256_hex(bytes))
                .await
                .unwrap()
                .is_none(),
            "{what}: no blob row"
        );
    }

    // A declared hash the bytes do not have.
    let meta = format!("sha256 {}", STANDARD.encode(sha256_hex(b"something else")));
    let location = phone.create_ok(good.len(), &meta).await;
    let resp = phone.patch(&location, 0, &good, None).await;
    assert_eq!(
        refusal(resp).await,
        (
            StatusCode::from_u16(460).unwrap(),
            "checksum_mismatch".into()
        )
    );
    assert_eq!(phone.head(&location).await.status(), StatusCode::NOT_FOUND);

    // Chunk-level refusals keep the upload where it was.
    let location = phone.create_ok(good.len(), "").await;
    let (first, rest) = good.split_at(1000);
    let wrong = phone
        .patch(
            &location,
            0,
            first,
            Some(format!("sha256 {}", sha256_b64(b"x"))),
        )
        .await;
    assert_eq!(
        refusal(wrong).await,
        (
            StatusCode::from_u16(460).unwrap(),
            "checksum_mismatch".into()
        ),
        "wrong chunk checksum"
    );
    let sha1 = phone
        .patch(
            &location,
            0,
            first,
            Some("sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
        )
        .await;
    assert_eq!(
        refusal(sha1).await,
        (StatusCode::BAD_REQUEST, "unsupported_checksum".into())
    );
    assert_eq!(phone.offset(&location).await, 0);
    let mut too_long = good.clone();
    too_long.extend([0u8; 10]);
    assert_eq!(
        refusal(phone.patch(&location, 0, &too_long, None).await).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "exceeds_upload_length".into()
        ),
        "beyond the declared length"
    );
    assert_eq!(phone.offset(&location).await, 0);
    let ok = phone
        .patch(
            &location,
            0,
            first,
            Some(format!("sha256 {}", sha256_b64(first))),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(ok.headers()["upload-offset"], "1000");
    assert_eq!(
        refusal(phone.patch(&location, 999, rest, None).await).await,
        (StatusCode::CONFLICT, "offset_mismatch".into()),
        "wrong Upload-Offset"
    );
    let resp = phone
        .request(reqwest::Method::PATCH, &location)
        .header("Upload-Offset", 1000)
        .header("Content-Type", "application/octet-stream")
        .body(rest.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(resp).await,
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_content_type".into()
        )
    );

    // Someone else: the same user on another device, another user, nobody.
    let other_device = Tus::login(&server, "demo-volunteer", "tablet-tang").await;
    let other_user = Tus::login(&server, "demo-leader", "phone-zhou").await;
    for (who, tus) in [("other device", &other_device), ("other user", &other_user)] {
        assert_eq!(
            tus.head(&location).await.status(),
            StatusCode::NOT_FOUND,
            "{who}"
        );
        assert_eq!(
            refusal(tus.patch(&location, 1000, rest, None).await).await,
            (StatusCode::NOT_FOUND, "upload_not_found".into()),
            "{who}"
        );
    }
    let anonymous = reqwest::Client::new()
        .post(format!("{}/api/v1/uploads", server.url))
        .header("Tus-Resumable", TUS)
        .header("Upload-Length", 10)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(anonymous).await,
        (StatusCode::UNAUTHORIZED, "unauthenticated".into())
    );
    let old_tus = phone
        .http
        .post(format!("{}/api/v1/uploads", server.url))
        .bearer_auth(&phone.token)
        .header("Tus-Resumable", "0.2.2")
        .header("Upload-Length", 10)
        .send()
        .await
        .unwrap();
    assert_eq!(old_tus.headers()["tus-version"], TUS);
    assert_eq!(
        refusal(old_tus).await,
        (StatusCode::PRECONDITION_FAILED, "tus_version".into())
    );
    assert_eq!(
        refusal(phone.create(21 << 20, "").await).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large".into())
    );
    assert_eq!(
        refusal(phone.create(10, "sha256 bm90LWhleA==").await).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_metadata".into())
    );

    assert!(stored_files(&server).is_empty(), "no blob was stored");

    // The server still serves: the interrupted upload finishes.
    let done = phone.patch(&location, 1000, rest, None).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        done.headers()["fieldsync-blob-hash"].to_str().unwrap(),
        sha256_hex(&good)
    );
    assert_eq!(stored_files(&server).len(), 3);
    let leftovers = files_under(&server.data_dir().join("uploads"));
    assert!(
        leftovers.is_empty(),
        "no partial upload left behind: {leftovers:?}"
    );
    crate::support::assert_still_serving(&server).await;
    server.stop().await;
}
both_backends!(
    bad_uploads_are_refused_and_nothing_is_stored,
    bad_uploads_are_refused_and_nothing_is_stored
);

async fn tus_discovery_status_and_termination(backend: Backend) {
    let server = TestServer::start(backend).await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;

    let options = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/uploads", server.url),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    let h = options.headers();
    assert_eq!(h["tus-resumable"], TUS);
    assert_eq!(h["tus-version"], TUS);
    assert_eq!(h["tus-extension"], "creation,checksum,termination");
    assert_eq!(h["tus-max-size"], (20u64 << 20).to_string().as_str());
    assert_eq!(h["tus-checksum-algorithm"], "sha256");
    // A method the upload routes do not serve is a 405 whatever its tus
    // headers, not a tus refusal.
    for (method, path) in [
        (reqwest::Method::TRACE, "/api/v1/uploads"),
        (reqwest::Method::DELETE, "/api/v1/uploads"),
        (
            reqwest::Method::GET,
            "/api/v1/uploads/0123456789abcdef0123456789abcdef",
        ),
    ] {
        let resp = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", server.url))
            .bearer_auth(&phone.token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }

    let photo = jpeg(32, 32, 5);
    let location = phone.create_ok(photo.len(), "filename d2FsbC5qcGc=").await;
    let resp = phone.patch(&location, 0, &photo[..100], None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let head = phone.head(&location).await;
    assert_eq!(head.status(), StatusCode::OK);
    let h = head.headers();
    assert_eq!(h["upload-offset"], "100");
    assert_eq!(h["upload-length"], photo.len().to_string().as_str());
    assert_eq!(h["upload-metadata"], "filename d2FsbC5qcGc=");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["tus-resumable"], TUS);

    let id = location.rsplit('/').next().unwrap();
    let partial = server.data_dir().join("upload-parts").join(id);
    let parts = files_under(&partial);
    assert_eq!(parts.len(), 1, "the chunk is one part");
    assert_eq!(std::fs::metadata(&parts[0]).unwrap().len(), 100);
    let resp = phone
        .request(reqwest::Method::DELETE, &location)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(phone.head(&location).await.status(), StatusCode::NOT_FOUND);
    assert!(
        !partial.exists(),
        "the bytes of a terminated upload are deleted"
    );
    assert!(server.state.store.upload(id).await.unwrap().is_none());
    server.stop().await;
}
both_backends!(
    tus_discovery_status_and_termination,
    tus_discovery_status_and_termination
);

async fn stock_tus_client_uploads_and_resumes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let login = login_json(&server.url, "demo-volunteer", "phone-tang").await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exit-blocked.jpg");
    let photo = jpeg(800, 600, 6);
    assert!(
        photo.len() > 3 * 16 * 1024,
        "several chunks: {}",
        photo.len()
    );
    std::fs::write(&file, &photo).unwrap();
    let endpoint = format!("{}/api/v1/uploads", server.url);
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--endpoint".to_owned(),
            endpoint.clone(),
            "--token".into(),
            token.clone(),
            "--file".into(),
            file.display().to_string(),
            "--chunk-size".into(),
            (16 * 1024).to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    // Two chunks, then the client stops.
    let first = python("upload.py", args(&["--stop-after-chunks", "2"])).await;
    assert_eq!(first["offset"], 32 * 1024);
    let url = first["url"].as_str().unwrap().to_owned();
    let location = url.trim_start_matches(&server.url).to_owned();
    let phone = Tus {
        base: server.url.clone(),
        token: token.clone(),
        http: reqwest::Client::new(),
    };
    assert_eq!(phone.offset(&location).await, 32 * 1024);
    let hash = sha256_hex(&photo);
    assert!(
        server
            .state
            .store
            .blob("demo", &hash)
            .await
            .unwrap()
            .is_none()
    );

    // A new client run picks the upload up where the server has it.
    let second = python("upload.py", args(&["--url", &url])).await;
    assert_eq!(second["offset"], photo.len());
    assert_eq!(second["blob_hash"], hash.as_str());
    assert_eq!(second["blob_stored"], "new");
    let blob = server
        .state
        .store
        .blob("demo", &hash)
        .await
        .unwrap()
        .expect("the blob");
    assert_eq!(
        (blob.width, blob.height, blob.size),
        (800, 600, photo.len() as i64)
    );
    assert_eq!(stored_files(&server).len(), 3);
    server.stop().await;
}
both_backends!(
    stock_tus_client_uploads_and_resumes,
    stock_tus_client_uploads_and_resumes
);

/// An S3-compatible server (moto) on a free loopback port, killed on drop.
pub(crate) struct S3Server {
    pub(crate) endpoint: String,
    child: Child,
}

impl S3Server {
    pub(crate) async fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tools_python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = S3Server { endpoint, child };
        for _ in 0..300 {
            if reqwest::get(format!("{}/moto-api/", server.endpoint))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto did not answer on {} within 30 s", server.endpoint);
    }

    /// `s3_bucket.py <command> <bucket>`: `create` makes the bucket, `list`
    /// answers its objects (key → size and sha256).
    pub(crate) async fn bucket(&self, command: &str, bucket: &str) -> serde_json::Value {
        python(
            "s3_bucket.py",
            vec![
                "--endpoint".into(),
                self.endpoint.clone(),
                command.into(),
                bucket.into(),
            ],
        )
        .await
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn s3_backend_stores_blobs_in_the_bucket(backend: Backend) {
    let s3 = S3Server::start().await;
    let bucket = "fieldsync-photos";
    s3.bucket("create", bucket).await;
    let endpoint = s3.endpoint.clone();
    let server = TestServer::start_with(backend, |c| {
        c.photos.s3 = Some(S3Config {
            bucket: bucket.into(),
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            access_key_id: Some("fieldsync-test".into()),
            secret_access_key: Some("fieldsync-test".into()),
        });
    })
    .await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;
    let photo = jpeg(200, 100, 7);
    let (hash, stored) = phone.upload_ok(&photo).await;
    assert_eq!(stored, "new");

    let objects = s3.bucket("list", bucket).await;
    let keys: Vec<&String> = objects.as_object().unwrap().keys().collect();
    let expected: Vec<String> = ["display", "original", "thumb"]
        .iter()
        .map(|v| format!("blobs/{hash}/{v}"))
        .collect();
    assert_eq!(keys, expected.iter().collect::<Vec<_>>());
    assert!(
        stored_files(&server).is_empty(),
        "nothing in the local blob dir"
    );

    // What the server serves is what the bucket holds.
    let (_, original) = phone.read(&hash, "original").await;
    let in_bucket = &objects[format!("blobs/{hash}/original")];
    assert_eq!(in_bucket["sha256"], sha256_hex(&original).as_str());
    assert_eq!(in_bucket["size"], original.len());
    let img = image::load_from_memory(&original).unwrap();
    assert_eq!((img.width(), img.height()), (200, 100));
    server.stop().await;
}
both_backends!(
    s3_backend_stores_blobs_in_the_bucket,
    s3_backend_stores_blobs_in_the_bucket
);

async fn partial_upload_survives_a_restart(backend: Backend) {
    let server = TestServer::start(backend).await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;
    let photo = jpeg(300, 200, 8);
    let half = photo.len() / 2;
    let location = phone.create_ok(photo.len(), "").await;
    let resp = phone.patch(&location, 0, &photo[..half], None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let server = server.restart().await;
    assert_eq!(phone.offset(&location).await, half as u64);
    let done = phone.patch(&location, half, &photo[half..], None).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        done.headers()["fieldsync-blob-hash"].to_str().unwrap(),
        sha256_hex(&photo)
    );
    let (_, original) = phone.read(&sha256_hex(&photo), "original").await;
    assert_eq!(image::load_from_memory(&original).unwrap().width(), 300);
    // A finished upload answers HEAD with its end and its blob.
    let head = phone.head(&location).await;
    assert_eq!(
        head.headers()["upload-offset"],
        photo.len().to_string().as_str()
    );
    assert_eq!(head.headers()["fieldsync-blob-stored"], "new");
    server.stop().await;
}
both_backends!(
    partial_upload_survives_a_restart,
    partial_upload_survives_a_restart
);

async fn abandoned_uploads_expire(backend: Backend) {
    let server = TestServer::start_with(backend, |c| {
        c.photos.upload_expiry_secs = 1;
        c.photos.expiry_sweep_secs = 1;
    })
    .await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;
    let photo = jpeg(64, 64, 9);
    let location = phone.create_ok(photo.len(), "").await;
    phone.patch(&location, 0, &photo[..200], None).await;
    let id = location.rsplit('/').next().unwrap().to_owned();
    let partial = server.data_dir().join("upload-parts").join(&id);
    assert_eq!(
        files_under(&partial).len(),
        1,
        "the chunk is one stored part"
    );

    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !partial.exists() && server.state.store.upload(&id).await.unwrap().is_none() {
            gone = true;
            break;
        }
    }
    assert!(gone, "the sweep deleted the abandoned upload and its bytes");
    assert_eq!(phone.head(&location).await.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
both_backends!(abandoned_uploads_expire, abandoned_uploads_expire);

async fn hazard_photos_link_their_blobs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let phone = Tus::login(&server, "demo-volunteer", "phone-tang").await;
    let (hash, _) = phone.upload_ok(&jpeg(80, 60, 10)).await;
    let neighbour = Tus::login(&server, "demo-volunteer-2", "phone-bai").await;
    assert_eq!(
        refusal(neighbour.link(&hash, "thumb").await).await,
        (StatusCode::FORBIDDEN, "forbidden".into()),
        "not linked yet"
    );

    let device = server.device("demo-volunteer").await;
    let id = device
        .client
        .report_hazard(fieldsync_sdk::NewHazard {
            category: "exit_blocked".into(),
            severity: fieldsync_sdk::Severity::General,
            immediate: false,
            description: "Bikes chained across the fire exit".into(),
            place: fieldsync_sdk::HazardPlace {
                post_id: Some("post-b3-u2-f5".into()),
                ..Default::default()
            },
            photos: vec![hash.clone()],
        })
        .unwrap();
    device.client.sync_now().await.unwrap();
    assert_eq!(
        server.state.store.blob_links("demo", &hash).await.unwrap(),
        vec![id.to_string()]
    );
    neighbour.link_ok(&hash, "thumb").await;
    let meta: serde_json::Value = crate::support::get_with_token(
        &server.url,
        &neighbour.token,
        &format!("/api/v1/blobs/{hash}/meta"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        meta["linked_documents"],
        serde_json::json!([id.to_string()])
    );

    // A photo of a hazard in the other grid (building 4) follows the
    // hazard's read scope: the neighbour's team and the grid worker of
    // grid 1 do not see it; the uploader and the office do.
    let (far, _) = phone.upload_ok(&jpeg(80, 60, 11)).await;
    device
        .client
        .report_hazard(fieldsync_sdk::NewHazard {
            category: "exit_blocked".into(),
            severity: fieldsync_sdk::Severity::General,
            immediate: false,
            description: "Boxes stacked on the landing".into(),
            place: fieldsync_sdk::HazardPlace {
                post_id: Some("post-b4-u1-f5".into()),
                ..Default::default()
            },
            photos: vec![far.clone()],
        })
        .unwrap();
    device.client.sync_now().await.unwrap();
    let grid_worker = Tus::login(&server, "demo-grid", "phone-fang").await;
    for outsider in [&neighbour, &grid_worker] {
        assert_eq!(
            refusal(outsider.link(&far, "thumb").await).await,
            (StatusCode::FORBIDDEN, "forbidden".into())
        );
    }
    phone.link_ok(&far, "thumb").await;
    Tus::login(&server, "demo-office", "office-pc")
        .await
        .link_ok(&far, "thumb")
        .await;

    // Incident and check-in photos link their documents too.
    let (scene, _) = phone.upload_ok(&jpeg(80, 60, 12)).await;
    let (landing, _) = phone.upload_ok(&jpeg(80, 60, 13)).await;
    let incident = device
        .client
        .file_incident(fieldsync_sdk::NewIncident {
            occurred_at_ms: 1_700_000_000_000,
            cause: "Stranger trying door handles".into(),
            photos: vec![scene.clone()],
            ..Default::default()
        })
        .unwrap();
    let patrol = device.client.start_patrol("team-1", "").unwrap();
    device
        .client
        .check_in_with(
            &patrol,
            fieldsync_sdk::Visit {
                post_id: "post-b3-u2-f9".into(),
                reason: "tag torn off".into(),
                photos: vec![landing.clone()],
                ..Default::default()
            },
        )
        .unwrap();
    device.client.sync_now().await.unwrap();
    for (photo, doc) in [(&scene, &incident), (&landing, &patrol)] {
        assert_eq!(
            server.state.store.blob_links("demo", photo).await.unwrap(),
            vec![doc.to_string()]
        );
    }
    server.stop().await;
}
both_backends!(
    hazard_photos_link_their_blobs,
    hazard_photos_link_their_blobs
);
