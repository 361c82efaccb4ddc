//! Server configuration: defaults → optional TOML file → environment → flags.
//!
//! Clap reads each flag and its `FIELDSYNC_*` environment variable (the flag
//! wins); values it did not get fall back to the file, then to defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Size and queue limits (docs/sync.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest WebSocket frame the server accepts, in bytes.
    pub max_frame_bytes: usize,
    /// Largest automerge sync message inside a frame, in bytes.
    pub max_message_bytes: usize,
    /// Largest stored document, in bytes.
    pub max_document_bytes: usize,
    /// Outgoing messages queued per connection before the server stops reading
    /// from it (backpressure).
    pub outbound_queue: usize,
    /// Most sync messages committed in one database transaction.
    pub batch_messages: usize,
    /// Seconds a client has to complete the handshake.
    pub handshake_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 8 << 20,
            max_message_bytes: 6 << 20,
            max_document_bytes: 16 << 20,
            outbound_queue: 256,
            batch_messages: 256,
            handshake_timeout_secs: 10,
        }
    }
}

/// Everything the server needs to run.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and local files.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; SQLite in `data_dir` when absent.
    pub database_url: Option<String>,
    /// HMAC secret for access tokens. Generated and stored in the database when absent.
    pub jwt_secret: Option<String>,
    /// Seed the demo community on first start.
    pub demo: bool,
    /// With `demo`: also its routes, rosters, a patrol and hazards (tests
    /// that count documents turn this off).
    pub demo_documents: bool,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// Seconds between compliance runs (missed/late alerts are raised
    /// within one run of their deadline).
    pub compliance_tick_secs: u64,
    /// Mark the dashboard's cookies `Secure`: set it when the server is
    /// reached over https through a proxy that does not send
    /// `X-Forwarded-Proto: https` (with one that does, they are anyway).
    pub secure_cookies: bool,
    pub limits: Limits,
    /// Photo uploads and blob storage.
    pub photos: PhotoConfig,
}

/// Photo uploads (tus), image checks and blob storage (docs/storage.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhotoConfig {
    /// Largest upload accepted, in bytes (`Tus-Max-Size`).
    pub max_upload_bytes: u64,
    /// Most pixels (width × height) an image may declare; checked from the
    /// header before anything is decoded.
    pub max_pixels: u64,
    /// Longest side an image may declare, in pixels.
    pub max_side: u32,
    /// Seconds after its last byte arrived that an unfinished upload is
    /// deleted.
    pub upload_expiry_secs: u64,
    /// Seconds between sweeps for expired uploads.
    pub expiry_sweep_secs: u64,
    /// Lifetime of a signed blob URL, in seconds.
    pub link_ttl_secs: u64,
    /// Images decoded and re-encoded at once (each may hold a full-size
    /// bitmap in memory).
    pub processing_slots: usize,
    /// Store blobs in an S3-compatible bucket instead of `<data_dir>/blobs`.
    pub s3: Option<S3Config>,
}

impl Default for PhotoConfig {
    fn default() -> Self {
        PhotoConfig {
            max_upload_bytes: 20 << 20,
            max_pixels: 50_000_000,
            max_side: 16_384,
            upload_expiry_secs: 24 * 3600,
            expiry_sweep_secs: 600,
            link_ttl_secs: 300,
            processing_slots: 2,
            s3: None,
        }
    }
}

/// An S3-compatible bucket for blobs. Credentials left out here come from
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and the other `AWS_*`
/// variables the AWS SDKs read).
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// Endpoint URL for S3-compatible services (MinIO, Garage, …); AWS when absent.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            jwt_secret: None,
            demo: true,
            demo_documents: true,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            compliance_tick_secs: 15,
            secure_cookies: false,
            limits: Limits::default(),
            photos: PhotoConfig::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("demo", &self.demo)
            .field("demo_documents", &self.demo_documents)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_secs", &self.refresh_token_ttl_secs)
            .field("compliance_tick_secs", &self.compliance_tick_secs)
            .field("secure_cookies", &self.secure_cookies)
            .field("limits", &self.limits)
            .field("photos", &self.photos)
            .finish()
    }
}

/// Hides the password in a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:<redacted>{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Command-line and environment overrides for `fieldsync serve`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "FIELDSYNC_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./data]
    #[arg(long, env = "FIELDSYNC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…); embedded SQLite when absent
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// TOML configuration file
    #[arg(long, env = "FIELDSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Do not seed the demo community
    #[arg(long)]
    pub no_demo: bool,
    /// Seed the demo accounts and places, but not its routes, rosters, patrol and hazards.
    #[arg(long)]
    pub no_demo_documents: bool,
}

/// A configuration file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("config file {path}: {message}")]
pub struct ConfigError {
    path: PathBuf,
    message: String,
}

impl Config {
    /// Builds the configuration from defaults, the optional file, and the
    /// arguments (which already include environment variables).
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let mut config = match &args.config {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        if let Ok(secret) = std::env::var("FIELDSYNC_JWT_SECRET") {
            config.jwt_secret = Some(secret);
        }
        config.photos.apply_env(|name| std::env::var(name).ok());
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
        if let Some(dir) = &args.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &args.database_url {
            config.database_url = Some(url.clone());
        }
        if args.no_demo {
            config.demo = false;
        }
        if args.no_demo_documents {
            config.demo_documents = false;
        }
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        toml::from_str(&text).map_err(|e| err(e.to_string()))
    }
}

impl PhotoConfig {
    /// `FIELDSYNC_S3_BUCKET` (switches blobs to S3), `FIELDSYNC_S3_ENDPOINT`,
    /// `FIELDSYNC_S3_REGION`.
    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        if let Some(bucket) = var("FIELDSYNC_S3_BUCKET") {
            self.s3.get_or_insert_with(S3Config::default).bucket = bucket;
        }
        if let Some(s3) = &mut self.s3 {
            if let Some(endpoint) = var("FIELDSYNC_S3_ENDPOINT") {
                s3.endpoint = Some(endpoint);
            }
            if let Some(region) = var("FIELDSYNC_S3_REGION") {
                s3.region = Some(region);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = std::env::temp_dir().join(format!("fieldsync-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("fieldsync.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\ndata_dir = \"/srv/fs\"\n[limits]\nmax_frame_bytes = 1024\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            data_dir: Some("/flag".into()),
            ..Default::default()
        };
        let c = Config::load(&args).unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.data_dir, PathBuf::from("/flag"));
        assert_eq!(c.limits.max_frame_bytes, 1024);
        assert_eq!(
            c.limits.max_message_bytes,
            Limits::default().max_message_bytes
        );

        std::fs::write(&file, "listn = 1\n").unwrap();
        let e = Config::load(&args).unwrap_err().to_string();
        assert!(e.contains("listn"), "{e}");
    }

    #[test]
    fn s3_settings_come_from_the_environment() {
        let mut photos = PhotoConfig::default();
        let env = |name: &str| match name {
            "FIELDSYNC_S3_BUCKET" => Some("photos".to_owned()),
            "FIELDSYNC_S3_ENDPOINT" => Some("http://127.0.0.1:9000".to_owned()),
            _ => None,
        };
        photos.apply_env(env);
        let s3 = photos.s3.expect("a bucket switches blobs to S3");
        assert_eq!(s3.bucket, "photos");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, None);

        let mut photos = PhotoConfig::default();
        photos.apply_env(|name| (name == "FIELDSYNC_S3_REGION").then(|| "eu-west-1".into()));
        assert!(photos.s3.is_none(), "a region alone does not switch to S3");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = Config {
            database_url: Some("postgres://fs:hunter2@db/fs".into()),
            jwt_secret: Some("s3cret".into()),
            photos: PhotoConfig {
                s3: Some(S3Config {
                    bucket: "b".into(),
                    secret_access_key: Some("aws-hunter3".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && !d.contains("s3cret"), "{d}");
        assert!(!d.contains("aws-hunter3"), "{d}");
        assert!(d.contains("postgres://fs:<redacted>@db/fs"));
    }
}
