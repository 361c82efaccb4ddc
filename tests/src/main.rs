//! The `fieldsync` server binary, built inside the end-to-end test package so
//! tests can spawn it as a child process (and kill it with SIGKILL).

fn main() -> std::process::ExitCode {
    fieldsync_server::cli::main()
}
