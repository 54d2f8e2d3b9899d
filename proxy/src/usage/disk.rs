//! Token usage on disk, for one instance without Redis (`state.usage_file`): a redb database,
//! one table of `(account, period) -> tokens`. Each run's tokens are one write transaction,
//! committed durably (redb's default: fsynced, copy-on-write with checksummed roots), so a
//! crash or `kill -9` loses at most the run being written and never leaves a half-written
//! count: the file reopens at its last commit.
//!
//! redb calls block (file I/O and fsync), so they run on tokio's blocking pool. redb locks
//! the file while it is open, so it is opened for each write and closed after it (one
//! operation at a time per process): `clawshim usage` can read it while clawshim serves, and
//! an operation that finds it open elsewhere retries for up to [`OPEN_WAIT`]. Opening costs
//! milliseconds (BENCHMARKS.md), so a store remembers each account's totals of the current
//! periods after reading or writing them: a budget check reads the file once per account and
//! day, then memory. The serving instance is the file's one writer, so what it remembers is
//! the file's content (several instances share usage through Redis, not one file).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redb::{Database, DatabaseError, ReadableTable, TableDefinition};

use super::period::{Periods, Totals};

/// `(account, "d:YYYY-MM-DD" | "m:YYYY-MM") -> tokens`.
const USAGE: TableDefinition<(&str, &str), u64> = TableDefinition::new("usage");

/// How long an operation waits for another process to close the file.
pub const OPEN_WAIT: Duration = Duration::from_secs(2);

/// The usage file.
#[derive(Clone)]
pub struct DiskStore {
    path: Arc<PathBuf>,
    /// One operation at a time in this process (redb refuses a second open of one file).
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Each account's totals as last read or written, with the periods they are for.
    known: Arc<Mutex<HashMap<String, (Periods, Totals)>>>,
}

impl std::fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskStore")
            .field("path", &self.path)
            .finish()
    }
}

impl DiskStore {
    /// The store at `path`, created (and nothing else) when missing; checks that it opens.
    pub fn open(path: &Path) -> Result<DiskStore, String> {
        drop(open_db(path).map_err(|e| format!("state.usage_file {}: {e}", path.display()))?);
        Ok(DiskStore {
            path: Arc::new(path.to_path_buf()),
            turn: Arc::new(tokio::sync::Mutex::new(())),
            known: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.path.as_path()
    }

    /// Add `tokens` to `account`'s day and month, in one durable commit.
    pub async fn add(&self, account: &str, periods: &Periods, tokens: u64) -> Result<(), String> {
        let (name, at) = (account.to_owned(), periods.clone());
        let totals = self.with_db(move |db| add(db, &name, &at, tokens)).await?;
        self.remember(account, periods, totals);
        Ok(())
    }

    /// `account`'s tokens in the day and the month of `periods`: remembered, or read once.
    pub async fn totals(&self, account: &str, periods: &Periods) -> Result<Totals, String> {
        if let Some((at, totals)) = self.lock_known().get(account) {
            if at == periods {
                return Ok(*totals);
            }
        }
        let (name, at) = (account.to_owned(), periods.clone());
        let totals = self.with_db(move |db| totals(db, &name, &at)).await?;
        self.remember(account, periods, totals);
        Ok(totals)
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Periods, Totals)>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, account: &str, periods: &Periods, totals: Totals) {
        self.lock_known()
            .insert(account.to_owned(), (periods.clone(), totals));
    }

    /// Open the file, run `f` on it, close it: on the blocking pool, one at a time.
    async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let _turn = self.turn.lock().await;
        let path = self.path.clone();
        let task = tokio::task::spawn_blocking(move || {
            let db = open_db(&path)?;
            f(&db)
        });
        task.await
            .unwrap_or_else(|e| Err(format!("usage file task: {e}")))
    }
}

/// Open (or create) the database, waiting up to [`OPEN_WAIT`] while another process has it.
fn open_db(path: &Path) -> Result<Database, String> {
    let until = Instant::now() + OPEN_WAIT;
    loop {
        match Database::create(path) {
            Err(DatabaseError::DatabaseAlreadyOpen) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.map_err(text),
        }
    }
}

/// redb's errors in words (they are large enums; only their text is kept).
fn text(e: impl Into<redb::Error>) -> String {
    e.into().to_string()
}

fn day_key(periods: &Periods) -> String {
    format!("d:{}", periods.day)
}

fn month_key(periods: &Periods) -> String {
    format!("m:{}", periods.month)
}

/// Add `tokens` to both periods in one commit; the new totals.
fn add(db: &Database, account: &str, periods: &Periods, tokens: u64) -> Result<Totals, String> {
    let txn = db.begin_write().map_err(text)?;
    let mut new = [0u64; 2];
    {
        let mut table = txn.open_table(USAGE).map_err(text)?;
        for (i, period) in [day_key(periods), month_key(periods)].iter().enumerate() {
            let key = (account, period.as_str());
            let old = table.get(key).map_err(text)?.map_or(0, |v| v.value());
            new[i] = old.saturating_add(tokens);
            table.insert(key, new[i]).map_err(text)?;
        }
    }
    txn.commit().map_err(text)?;
    Ok(Totals {
        day: new[0],
        month: new[1],
    })
}

fn totals(db: &Database, account: &str, periods: &Periods) -> Result<Totals, String> {
    let txn = db.begin_read().map_err(text)?;
    let table = match txn.open_table(USAGE) {
        Ok(table) => table,
        // Nothing was ever written.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Totals::default()),
        Err(e) => return Err(text(e)),
    };
    let read = |period: String| -> Result<u64, String> {
        Ok(table
            .get((account, period.as_str()))
            .map_err(text)?
            .map_or(0, |v| v.value()))
    };
    Ok(Totals {
        day: read(day_key(periods))?,
        month: read(month_key(periods))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_add_up_per_account_and_period_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("clawshim-usage-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("usage.redb");
        let today = Periods::of_unix_secs(1_798_761_599);
        let tomorrow = Periods::of_unix_secs(1_798_761_600);
        {
            let store = DiskStore::open(&path).unwrap();
            assert_eq!(store.totals("a", &today).await.unwrap(), Totals::default());
            store.add("a", &today, 10).await.unwrap();
            store.add("a", &today, 5).await.unwrap();
            store.add("b", &today, 7).await.unwrap();
            store.add("a", &tomorrow, 1).await.unwrap();
        }
        let store = DiskStore::open(&path).unwrap();
        assert_eq!(
            store.totals("a", &today).await.unwrap(),
            Totals { day: 15, month: 15 }
        );
        assert_eq!(
            store.totals("b", &today).await.unwrap(),
            Totals { day: 7, month: 7 }
        );
        // A new day and a new month (2027-01-01) start from zero.
        assert_eq!(
            store.totals("a", &tomorrow).await.unwrap(),
            Totals { day: 1, month: 1 }
        );
        // A second store on the same file (`clawshim usage` while clawshim serves) reads and
        // writes it too; a fresh store reads what both wrote.
        let other = DiskStore::open(&path).unwrap();
        let (a, b) = tokio::join!(store.add("a", &today, 100), other.add("a", &today, 1000));
        a.unwrap();
        b.unwrap();
        let fresh = DiskStore::open(&path).unwrap();
        assert_eq!(fresh.totals("a", &today).await.unwrap().day, 1115);
        // A store remembers its own writes: its next check reads no file.
        fresh.add("c", &today, 3).await.unwrap();
        assert_eq!(
            fresh.lock_known().get("c").map(|(_, t)| *t),
            Some(Totals { day: 3, month: 3 })
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
