//! Server configuration: defaults → optional TOML file → environment → flags.
//!
//! Clap reads each flag and its `FIELDSYNC_*` environment variable (the flag
//! wins); values it did not get fall back to the file, then to defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Size and queue limits (DESIGN.md §8).
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
    pub limits: Limits,
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
            limits: Limits::default(),
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
            .field("limits", &self.limits)
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
    fn secrets_are_redacted_in_debug() {
        let c = Config {
            database_url: Some("postgres://fs:hunter2@db/fs".into()),
            jwt_secret: Some("s3cret".into()),
            ..Default::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && !d.contains("s3cret"), "{d}");
        assert!(d.contains("postgres://fs:<redacted>@db/fs"));
    }
}
