//! A fixed pool of threads for image work. The same few threads do every
//! decode and re-encode, so their allocator heaps are reused instead of one
//! heap per blocking thread each keeping a full-size bitmap's worth of memory.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run blocking image jobs; they end when the pool is dropped.
#[derive(Clone)]
pub(super) struct ImageWorkers {
    jobs: mpsc::Sender<Job>,
}

/// The job did not run to its end (it panicked, or the pool is gone).
#[derive(Debug, thiserror::Error)]
#[error("image worker failed")]
pub struct WorkerFailed;

impl ImageWorkers {
    /// Starts `threads` workers.
    pub(super) fn start(threads: usize) -> std::io::Result<ImageWorkers> {
        let (tx, rx) = mpsc::channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("fieldsync-image-{i}"))
                .spawn(move || {
                    loop {
                        // Idle workers queue on the lock; one waits for a job.
                        let job = rx.lock().expect("image job queue poisoned").blocking_recv();
                        let Some(job) = job else { break };
                        // A panicking decoder costs its job, not the worker.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(ImageWorkers { jobs: tx })
    }

    /// Runs `f` on a worker and waits for its result without blocking the
    /// reactor.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkerFailed> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).await.map_err(|_| WorkerFailed)?;
        rx.await.map_err(|_| WorkerFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_a_panic_costs_only_its_job() {
        let workers = ImageWorkers::start(1).unwrap();
        assert_eq!(workers.run(|| 6 * 7).await.unwrap(), 42);
        let panicked = workers.run(|| -> u8 { panic!("bad image") }).await;
        assert!(panicked.is_err());
        assert_eq!(workers.run(|| "still here").await.unwrap(), "still here");
    }
}
