//! What shared state (Redis) costs: one check's round trip (p50/p99), the checks per second
//! one instance makes, and what the checks add to a request; and, without Redis, what the
//! usage file (`state.usage_file`) costs per budget check and per run's write. A real `redis-server` on
//! loopback (started and killed by the bench, like the `shared_state` suite), clawshim
//! in-process against the mock gateway. Results in BENCHMARKS.md ("Shared state").
//!
//! `cargo bench -p clawshim-tests --bench shared_state`; without `--bench` (e.g.
//! `cargo test --benches`) every phase runs with tiny counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clawshim_proxy::shared_state::{BackendStatus, SharedState, SharedStateSettings};
use clawshim_tests::redis_server::RedisServer;
use clawshim_tests::*;

const KEY: &str = "csk-bench-shared-state";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<44} n={:<6} p50 {:>8.1} us   p99 {:>8.1} us",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6
    );
}

async fn shared(url: &str) -> Arc<SharedState> {
    let state = Arc::new(SharedState::new(&SharedStateSettings {
        redis_url: Some(clawshim_core::gateway::Secret::new(url)),
        timeout: Duration::from_millis(25),
        key_prefix: "clawshim-bench:".into(),
        lease_ttl: Duration::from_secs(10),
        usage_file: None,
    }));
    poll_until("shared state up", || {
        let s = state.clone();
        async move {
            match s.status() {
                Some(BackendStatus::Up) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    state
}

/// One check at a time: its round trip.
async fn sequential_checks(state: &SharedState, n: usize) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let verdict = state.take_request("bench", u32::MAX).await;
        times.push(t.elapsed());
        assert_eq!(verdict, Some(Ok(())), "an answer from Redis, admitted");
    }
    report("one rate check (GCRA script), sequential", times);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let lease = state
            .acquire(
                clawshim_proxy::shared_state::Kind::Runs,
                b"bench",
                1_000_000,
            )
            .await;
        times.push(t.elapsed());
        assert!(matches!(lease, Some(Ok(_))));
    }
    report("one run-slot lease (acquire script)", times);
}

/// `tasks` callers checking at once for `secs`: checks per second over the one connection.
async fn checks_per_second(state: Arc<SharedState>, tasks: usize, run_for: Duration) {
    let end = Instant::now() + run_for;
    let mut handles = Vec::new();
    for i in 0..tasks {
        let state = state.clone();
        handles.push(tokio::spawn(async move {
            let name = format!("bench-{}", i % 16);
            let (mut done, mut fallbacks) = (0u64, 0u64);
            while Instant::now() < end {
                match state.take_request(&name, u32::MAX).await {
                    Some(_) => done += 1,
                    None => fallbacks += 1,
                }
            }
            (done, fallbacks)
        }));
    }
    let (mut done, mut fallbacks) = (0, 0);
    for h in handles {
        let (d, f) = h.await.unwrap();
        done += d;
        fallbacks += f;
    }
    println!(
        "{tasks} callers for {:?}: {:.0} checks/s answered by Redis, {fallbacks} decided locally (timeout)",
        run_for,
        done as f64 / run_for.as_secs_f64()
    );
}

/// `GET /v1/models` with a rate-limited key, one at a time: the failed-auth check and the
/// rate check on the request path, with and without Redis.
async fn request_cost(gw: &MockGateway, redis_url: Option<String>, n: usize) {
    let path = std::env::temp_dir().join(format!("clawshim-bench-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "[[keys]]\nname = \"bench\"\nsha256 = \"{}\"\nrequests_per_minute = 1000000000\n",
            sha256_hex(KEY)
        ),
    )
    .unwrap();
    let with_redis = redis_url.is_some();
    let shim = Shim::start_with(
        &gw.url(),
        move |s| {
            s.config = Some(path);
            s.redis_url = redis_url;
        },
        true,
    )
    .await;
    let http = client();
    let url = shim.url("/v1/models");
    let mut times = Vec::with_capacity(n);
    for i in 0..(n + n / 10) {
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(KEY).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        if i >= n / 10 {
            times.push(t.elapsed());
        }
    }
    report(
        if with_redis {
            "GET /v1/models, key with a rate, Redis"
        } else {
            "GET /v1/models, key with a rate, local only"
        },
        times,
    );
}

/// The usage file: a run's tokens (a durable commit), a budget check the store remembers
/// (after its own write or read), and a first budget check of an account (a file read).
async fn usage_file(n: usize) {
    use clawshim_proxy::usage::disk::DiskStore;
    use clawshim_proxy::usage::period::Periods;
    let dir = std::env::temp_dir().join(format!("clawshim-bench-usage-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("usage.redb");
    let store = DiskStore::open(&path).unwrap();
    let periods = Periods::now();
    let (mut writes, mut remembered, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let name = format!("key-{}", i % 16);
        let t = Instant::now();
        store.add(&name, &periods, 100).await.unwrap();
        writes.push(t.elapsed());
        let t = Instant::now();
        store.totals(&name, &periods).await.unwrap();
        remembered.push(t.elapsed());
        let fresh = DiskStore::open(&path).unwrap();
        let t = Instant::now();
        fresh.totals(&name, &periods).await.unwrap();
        first.push(t.elapsed());
    }
    report("usage file: a run's tokens (fsynced commit)", writes);
    report("usage file: budget check, remembered", remembered);
    report("usage file: budget check, first of the day", first);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, secs) = if full { (20_000, 5) } else { (50, 1) };
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let state = shared(&redis.url()).await;
        sequential_checks(&state, n).await;
        for tasks in [1, 16, 64] {
            checks_per_second(state.clone(), tasks, Duration::from_secs(secs)).await;
        }
        let gw = mock(Protocol::V4).await;
        request_cost(&gw, None, n / 4).await;
        request_cost(&gw, Some(redis.url()), n / 4).await;
        usage_file(n / 20).await;
    });
}
