//! The bytes of run requests held until the gateway accepts them, all runs together
//! (`limits.max_run_bytes_in_flight`): see [`crate::run::run_setup`] for when a run holds
//! them. One semaphore permit per byte (a semaphore holds at most `Semaphore::MAX_PERMITS`,
//! far above any sane limit).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::request::errors::HttpError;

/// The shared byte budget.
#[derive(Debug)]
pub struct RunBytes {
    budget: Arc<Semaphore>,
    limit: u64,
}

impl RunBytes {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> RunBytes {
        let permits = usize::try_from(limit)
            .map_or(Semaphore::MAX_PERMITS, |l| l.min(Semaphore::MAX_PERMITS));
        RunBytes {
            budget: Arc::new(Semaphore::new(permits)),
            limit,
        }
    }

    /// Take `bytes` until the permit is dropped: 413 when they could never fit, 503 while the
    /// runs waiting for the gateway hold too much.
    pub fn hold(&self, bytes: usize) -> Result<OwnedSemaphorePermit, HttpError> {
        let limit = self.limit;
        let too_large = || HttpError::MediaTooLarge {
            message: format!(
                "This request's run is {bytes} bytes (message, instructions and images), more \
                 than clawshim holds for all runs waiting for the gateway \
                 (limits.max_run_bytes_in_flight = {limit})."
            ),
            param: None,
        };
        if bytes as u64 > limit {
            return Err(too_large());
        }
        let permits = u32::try_from(bytes.max(1)).map_err(|_| too_large())?;
        self.budget
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| HttpError::RunBytesFull { limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_hold_bytes_until_dropped() {
        let bytes = RunBytes::new(100);
        let a = bytes.hold(60).unwrap();
        assert!(matches!(
            bytes.hold(60),
            Err(HttpError::RunBytesFull { limit: 100 })
        ));
        let b = bytes.hold(40).unwrap();
        drop(a);
        assert!(bytes.hold(60).is_ok());
        drop(b);
        assert!(matches!(
            bytes.hold(101),
            Err(HttpError::MediaTooLarge { .. })
        ));
    }
}
