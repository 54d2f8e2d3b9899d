//! [`Lease`]: a slot in a shared lease set, held while it lives. A task renews it every third
//! of its time to live; dropping it stops the renewals and removes it. A lease whose
//! instance died is neither renewed nor removed: it expires, and the next acquire on its set
//! removes it ([`super::scripts::LEASE_ACQUIRE`]).

use std::sync::Arc;
use std::time::Duration;

use super::backend::Backend;
use super::scripts;

/// One held slot; released on drop.
#[derive(Debug)]
pub struct Lease {
    backend: Arc<Backend>,
    set: String,
    id: String,
    renewals: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Keep lease `id` of `set` alive every `ttl / 3` until dropped.
    pub(super) fn hold(backend: Arc<Backend>, set: String, id: String, ttl: Duration) -> Lease {
        let renewals = tokio::spawn({
            let (backend, set, id) = (backend.clone(), set.clone(), id.clone());
            async move {
                let period = ttl / 3;
                let ttl_ms = ttl.as_millis() as u64;
                loop {
                    tokio::time::sleep(period).await;
                    let mut invocation = scripts::LEASE_RENEW.prepare_invoke();
                    invocation.key(&set).arg(&id).arg(ttl_ms);
                    // Down: nothing to renew on; the renewal after recovery puts it back.
                    let _ = backend.invoke::<i64>(&invocation).await;
                }
            }
        });
        Lease {
            backend,
            set,
            id,
            renewals,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewals.abort();
        // Off the request path; if it cannot run (runtime stopping, Redis down), the lease
        // expires by itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let backend = self.backend.clone();
            let mut cmd = redis::cmd("ZREM");
            cmd.arg(&self.set).arg(&self.id);
            runtime.spawn(async move {
                let _ = backend.query::<i64>(&cmd).await;
            });
        }
    }
}
