//! A few threads that check and hash passwords, one at a time each. Argon2id takes 19 MiB per
//! computation; run on tokio's blocking pool, a flood of log-ins would start a thread per
//! log-in, and the allocator keeps each thread's 19 MiB afterwards (1.1 GB measured for 400
//! log-ins with at most four at once). A fixed set of threads reuses its memory.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

type Job = Box<dyn FnOnce() + Send>;

/// The threads, and a turn for each.
pub(in crate::service) struct PasswordPool {
    turns: Arc<Semaphore>,
    jobs: SyncSender<(Job, OwnedSemaphorePermit)>,
    done: Arc<std::sync::atomic::AtomicU64>,
}

/// No thread took a turn in time.
#[derive(Debug)]
pub(in crate::service) enum PoolError {
    /// Every thread stayed busy for the whole wait.
    Busy,
    /// The threads are gone (they never panic; this would be a bug).
    Gone,
}

impl PasswordPool {
    /// Starts `threads` threads.
    pub(in crate::service) fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = sync_channel::<(Job, OwnedSemaphorePermit)>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kp-password-{i}"))
                .spawn(move || work(&queue));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password thread");
            }
        }
        Self {
            turns: Arc::new(Semaphore::new(threads)),
            jobs,
            done: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// Runs `f` on a password thread when one is free within `wait`.
    pub(in crate::service) async fn run<T: Send + 'static>(
        &self,
        wait: std::time::Duration,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let turn = tokio::time::timeout(wait, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| PoolError::Busy)?
            .map_err(|_| PoolError::Gone)?;
        let (tx, rx) = oneshot::channel();
        let done = self.done.clone();
        let job: Job = Box::new(move || {
            let out = f();
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = tx.send(out);
        });
        // A turn is a free thread: the queue (as long as the threads) never blocks here.
        self.jobs.send((job, turn)).map_err(|_| PoolError::Gone)?;
        rx.await.map_err(|_| PoolError::Gone)
    }

    /// How many jobs have run.
    pub(in crate::service) fn done(&self) -> u64 {
        self.done.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn work(queue: &Mutex<Receiver<(Job, OwnedSemaphorePermit)>>) {
    loop {
        let next = match queue.lock() {
            Ok(q) => q.recv(),
            Err(_) => return,
        };
        let Ok((job, turn)) = next else {
            return; // the pool is gone
        };
        job();
        // The turn ends with the computation, even when its caller gave up waiting.
        drop(turn);
    }
}
