//! Who may read a request body now: `limits.max_concurrent_bodies` slots in all, of which one
//! API key, and one client address (an IPv4 address or an IPv6 /64, as the failed-auth
//! limiter counts), may hold at most `limits.max_concurrent_bodies_per_client`.
//!
//! A slow client holds its slot until its body arrives or its deadline cuts it
//! ([`crate::request::body`]); the shares make sure that a client holding all it may still leaves
//! slots to the others, so one key or one host cannot make every other client wait. A
//! request takes its key's share, then its address's, then a slot of the whole, always in
//! that order (no request holds one while waiting for an earlier one, so none deadlock),
//! and waits at most [`BODY_SLOT_WAIT`] for all of them: over its own share it gets 429,
//! with every slot taken 503. Shared tokens (the operator's own, no per-key limits) have no
//! key share; their address's applies.
//!
//! The shares live in a table with one entry per key or address that holds or waits for a
//! slot; an entry goes when its last holder or waiter does, so the table is bounded by the
//! requests reading bodies.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::defaults::BODY_SLOT_WAIT;
use crate::front_door::failed_auth::Bucket;
use crate::front_door::keys::Principal;
use crate::request::errors::HttpError;

/// The body slots of the service.
#[derive(Debug)]
pub struct BodySlots {
    all: Arc<Semaphore>,
    per_client: usize,
    shares: Arc<Mutex<HashMap<Holder, Arc<Semaphore>>>>,
}

/// Who a share belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    Key(Arc<str>),
    Address(Bucket),
}

/// Whose body is read: the caller's API key (none for a shared token) and address.
#[derive(Debug, Clone)]
pub struct Reader {
    key: Option<Arc<str>>,
    address: Option<IpAddr>,
}

impl Reader {
    /// The reader of a request from `principal` at `address` (for a client a trusted proxy
    /// could not name, the proxy's, as the failed-auth limiter counts it).
    pub fn new(principal: &Principal, address: Option<IpAddr>) -> Reader {
        Reader {
            key: principal.name().map(Arc::from),
            address,
        }
    }
}

/// A body slot and the shares it counts against; all given back on drop.
#[derive(Debug)]
pub struct BodySlot {
    _all: OwnedSemaphorePermit,
    _shares: Vec<Share>,
}

impl BodySlots {
    /// `all` slots, at most `per_client` for one key and for one address.
    pub fn new(all: usize, per_client: usize) -> BodySlots {
        BodySlots {
            all: Arc::new(Semaphore::new(all)),
            per_client,
            shares: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for `reader`, waiting at most [`BODY_SLOT_WAIT`]: 429 when the reader's own
    /// share stayed full, 503 when every slot stayed taken.
    pub async fn acquire(&self, reader: &Reader) -> Result<BodySlot, HttpError> {
        let holders = reader
            .key
            .clone()
            .map(Holder::Key)
            .into_iter()
            .chain(reader.address.map(|ip| Holder::Address(Bucket::of(ip))));
        let mut shares: Vec<Share> = holders.map(|h| self.share(h)).collect();
        let wait = tokio::time::sleep(BODY_SLOT_WAIT);
        tokio::pin!(wait);
        for share in &mut shares {
            let sem = share.sem.clone().expect("held until drop");
            tokio::select! {
                permit = sem.acquire_owned() => share.permit = permit.ok(),
                _ = &mut wait => {
                    return Err(HttpError::BodiesPerClient { retry_after_secs: 1 });
                }
            }
        }
        tokio::select! {
            permit = self.all.clone().acquire_owned() => match permit {
                Ok(permit) => Ok(BodySlot { _all: permit, _shares: shares }),
                Err(_) => Err(HttpError::Internal("body slots closed".into())),
            },
            _ = &mut wait => Err(HttpError::Busy { retry_after_secs: 1 }),
        }
    }

    /// `holder`'s entry in the table (made when missing), held until the share is dropped.
    fn share(&self, holder: Holder) -> Share {
        let mut table = self.shares.lock().unwrap_or_else(|p| p.into_inner());
        let sem = table
            .entry(holder.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_client)))
            .clone();
        Share {
            holder,
            sem: Some(sem),
            permit: None,
            table: self.shares.clone(),
        }
    }

    /// Keys and addresses holding or waiting for a slot now.
    pub fn tracked(&self) -> usize {
        self.shares.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One holder's share, taken or waited for; its table entry goes with its last user.
#[derive(Debug)]
struct Share {
    holder: Holder,
    sem: Option<Arc<Semaphore>>,
    permit: Option<OwnedSemaphorePermit>,
    table: Arc<Mutex<HashMap<Holder, Arc<Semaphore>>>>,
}

impl Drop for Share {
    fn drop(&mut self) {
        // Under the lock, where every other user of the entry clones it: a count of one
        // after ours are gone means no one else holds or waits.
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        self.permit.take();
        self.sem.take();
        if table
            .get(&self.holder)
            .is_some_and(|sem| Arc::strong_count(sem) == 1)
        {
            table.remove(&self.holder);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front_door::keys::{ApiKey, KeySpec, Principal};

    fn key(name: &str) -> Principal {
        Principal::Key(Arc::new(ApiKey::new(&KeySpec {
            name: name.into(),
            sha256: [0; 32],
            agents: None,
            requests_per_minute: None,
            max_concurrent_runs: None,
            daily_token_budget: None,
            monthly_token_budget: None,
            session_namespace: name.into(),
            progress: None,
            client_tools: None,
        })))
    }

    fn at(principal: &Principal, ip: &str) -> Reader {
        Reader::new(principal, Some(ip.parse().unwrap()))
    }

    #[tokio::test(start_paused = true)]
    async fn one_key_or_one_address_holds_its_share_only() {
        let slots = BodySlots::new(4, 2);
        let (a, b) = (key("a"), key("b"));
        let _a1 = slots.acquire(&at(&a, "10.0.0.1")).await.unwrap();
        let _a2 = slots.acquire(&at(&a, "10.0.0.2")).await.unwrap();
        // Key `a` holds its share: from a third address too it waits, then 429.
        let refused = slots.acquire(&at(&a, "10.0.0.3")).await.unwrap_err();
        assert!(matches!(refused, HttpError::BodiesPerClient { .. }));
        // Another key from the same address holds that address's share.
        let _b1 = slots.acquire(&at(&b, "10.0.0.1")).await.unwrap();
        assert!(matches!(
            slots.acquire(&at(&b, "10.0.0.1")).await.unwrap_err(),
            HttpError::BodiesPerClient { .. }
        ));
        // Shared tokens have no key share; the address's applies.
        let shared = Principal::Shared;
        let _shared = slots.acquire(&at(&shared, "10.0.0.4")).await.unwrap();
        // Every slot is taken: 503.
        assert!(matches!(
            slots.acquire(&at(&shared, "10.0.0.5")).await.unwrap_err(),
            HttpError::Busy { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_freed_share_goes_to_its_waiter_and_the_table_empties() {
        let slots = Arc::new(BodySlots::new(4, 1));
        let a = key("a");
        let first = slots.acquire(&at(&a, "10.0.0.1")).await.unwrap();
        let waiter = {
            let (slots, reader) = (slots.clone(), at(&a, "10.0.0.2"));
            tokio::spawn(async move { slots.acquire(&reader).await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!(slots.tracked(), 0);
        // A waiter that gives up leaves nothing behind either.
        let held = slots.acquire(&at(&a, "10.0.0.1")).await.unwrap();
        assert!(slots.acquire(&at(&a, "10.0.0.1")).await.is_err());
        drop(held);
        assert_eq!(slots.tracked(), 0);
    }
}
