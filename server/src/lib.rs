//! fieldsync server: sync over WebSocket, authentication, and storage on SQLite
//! or PostgreSQL. See ARCHITECTURE.md for the map.

pub mod admin;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod cli;
pub mod clock;
pub mod commit;
pub mod compliance;
pub mod config;
pub mod demo;
pub mod documents;
pub mod feed;
pub mod format;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod names;
pub mod photos;
pub mod projection;
pub mod replicas;
pub mod reports;
pub mod scope;
pub mod state;
pub mod store;
pub mod sync;
pub mod tags;
pub mod web;

pub use app::Server;
pub use config::Config;
