//! End-to-end tests: a real server on 127.0.0.1 (in-process or a child
//! process), real SDK clients, on SQLite and on PostgreSQL.

mod admin;
mod audit;
mod auth;
mod authz;
mod backup;
mod bad_input;
mod bench_smoke;
mod browser;
mod compliance;
mod contract;
mod convergence;
mod dashboard_admin;
mod dashboard_auth;
mod dashboard_board;
mod dashboard_hazards;
mod first_run;
mod hazards;
mod incidents;
mod metrics;
mod migrations;
mod patrols;
mod photo_queue;
mod photos;
mod projections;
mod replicas;
mod reports;
mod schema_migration;
mod scopes;
mod sdk_responsiveness;
mod support;
mod sync;
mod web_client;
