#!/usr/bin/env python3
"""The concurrency burst of bench.py on clawdbot 2026.1.24 with other clients' sessions in
the store (issue 23): errors, throughput and latency through clawshim for N foreign sessions.

Started by `run.sh --bench-store` once per N with a fresh clawshim (so each N starts from the
admission's initial limit). Steps:

1. Empty the main agent's store (as bench.py does: sessions.json rewritten under its lock).
2. Put N foreign sessions in it. One real `agent` run straight over the WebSocket, as the
   Control UI or another operator client would (token auth, session key
   `agent:main:foreign:<uuid>`), makes one real entry (with its `skillsSnapshot`, ~95 % of an
   entry's size); then N entries, that entry under fresh keys and session ids, are written the
   way the gateway writes the store (`config/sessions/store.js`: `sessions.json.lock` taken
   with O_EXCL, the JSON written to a temporary file and renamed into place, mode 0600).
   Why not N real runs: each run re-parses the whole store with JSON5 several times, so
   1,000 runs on a growing store take about half an hour here; what a run pays for foreign
   sessions is their entries in `sessions.json` (their transcripts are never read by other
   runs), and those are the same either way.
3. The burst: R requests from W workers through clawshim (bench.py's client), then the
   gateway's log lines with `timeout acquiring session store lock` during the burst, and
   clawshim's admission metrics when --metrics is given.

Prints one Markdown row per N (--header prints the table head first); --out appends the raw
figures as JSON lines. Every request and wait is bounded.
"""

import argparse
import asyncio
import concurrent.futures
import json
import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import gateway_probe  # noqa: E402

LOCK_TEXT = "timeout acquiring session store lock"


class StoreLock:
    """sessions.json.lock as the gateway takes it (O_EXCL create, 25 ms polling)."""

    def __init__(self, store_file, timeout_s=60.0):
        self.path = store_file + ".lock"
        self.timeout_s = timeout_s
        self.fd = None

    def __enter__(self):
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                self.fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.write(self.fd, json.dumps({"pid": os.getpid(), "startedAt": int(time.time() * 1000)}).encode())
                return self
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise SystemExit("session store lock held for %.0f s: %s" % (self.timeout_s, self.path))
                time.sleep(0.025)

    def __exit__(self, *exc):
        os.close(self.fd)
        os.unlink(self.path)


def write_store(store_file, store):
    """Replace sessions.json under its lock, like `saveSessionStoreUnlocked` (tmp + rename)."""
    os.makedirs(os.path.dirname(store_file), exist_ok=True)
    with StoreLock(store_file):
        tmp = "%s.%d.%s.tmp" % (store_file, os.getpid(), uuid.uuid4().hex[:8])
        with open(tmp, "w") as f:
            json.dump(store, f, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, store_file)


def read_store(store_file):
    try:
        with open(store_file) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


async def one_foreign_run(url, token, timeout_s=120.0):
    """One `agent` run over the WebSocket in a session of its own; returns its session key."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    ws = await gateway_probe.connect(url, token, deadline)
    key = "agent:main:foreign:%s" % uuid.uuid4()
    try:
        req_id = str(uuid.uuid4())
        await ws.send(json.dumps({"type": "req", "id": req_id, "method": "agent", "params": {
            "message": "foreign session template", "agentId": "main", "sessionKey": key,
            "idempotencyKey": str(uuid.uuid4()), "deliver": False}}))
        while True:  # `accepted`, then the final res on the same id
            frame = await gateway_probe._recv_json(ws, deadline)
            if frame.get("type") != "res" or frame.get("id") != req_id:
                continue
            if not frame.get("ok"):
                raise SystemExit("the template run failed: %s" % json.dumps(frame.get("error")))
            if (frame.get("payload") or {}).get("status") != "accepted":
                return key
    finally:
        await ws.close()


def fill(args, n):
    """Empty the store, then put n foreign sessions in it; returns (entries, bytes)."""
    write_store(args.store_file, {})
    if n > 0:
        key = asyncio.run(one_foreign_run(args.gateway_ws, args.token))
        store = read_store(args.store_file)
        template = store.get(key)
        if not template:
            raise SystemExit("the template run left no entry %s in %s" % (key, args.store_file))
        now = int(time.time() * 1000)
        store = {}
        for i in range(n):
            entry = dict(template)
            entry["sessionId"] = str(uuid.uuid4())
            entry["updatedAt"] = now - i
            store["agent:main:foreign:%s" % uuid.uuid4()] = entry
        write_store(args.store_file, store)
    return len(read_store(args.store_file)), os.path.getsize(args.store_file)


def burst(target, requests, workers):
    """bench.py's burst, keeping every successful request's latency."""
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(
            lambda i: target.chat("store %d %s" % (i, uuid.uuid4().hex[:8])), range(requests)))
    wall = time.perf_counter() - t0
    errors = ["%s %s" % (s, e) for s, _, _, e in results if e]
    kinds = {"lock_after_accepted": 0, "queue_wait": 0, "other": 0}
    samples = {kind: [] for kind in kinds}
    for e in errors:
        kind = "lock_after_accepted" if LOCK_TEXT in e else "queue_wait" if "gateway_overloaded" in e else "other"
        kinds[kind] += 1
        if len(samples[kind]) < 3:
            samples[kind].append(e)
    lat = sorted(t for _, t, _, e in results if not e)
    return {"requests": requests, "workers": workers, "errors": len(errors), "error_kinds": kinds,
            "error_samples": samples,
            "wall_s": wall, "ok_per_s": (requests - len(errors)) / wall,
            "p50_ms": bench.pct(lat, 50) * 1000, "p95_ms": bench.pct(lat, 95) * 1000}, lat


def log_size(path):
    try:
        return os.path.getsize(path)
    except (FileNotFoundError, TypeError):
        return 0


def lock_lines(path, offset):
    """The gateway log's store-lock timeouts written after `offset`: (before accepted, after)."""
    if not path:
        return None
    before = after = 0
    sample = None
    with open(path, errors="replace") as f:
        f.seek(offset)
        for line in f:
            if LOCK_TEXT not in line or "res" not in line:
                continue
            # after `accepted` the agent handler's catch logs the run id (agent.js:297)
            if "runId=" in line:
                after += 1
                sample = sample or line.strip()
            else:
                before += 1
    return {"before_accepted": before, "after_accepted": after, "sample": sample}


def metrics(url):
    if not url:
        return {}
    import urllib.request

    wanted = ("clawshim_run_limit", "clawshim_run_retries_total", "clawshim_run_overloads_total",
              "clawshim_run_queue_wait_seconds_sum", "clawshim_run_queue_wait_seconds_count",
              "clawshim_run_accept_seconds_sum", "clawshim_run_accept_seconds_count")
    out = {}
    with urllib.request.urlopen(url, timeout=10) as res:
        for line in res.read().decode().splitlines():
            if line.startswith(wanted):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clawshim", required=True, help="clawshim base URL, e.g. http://127.0.0.1:18912/v1")
    ap.add_argument("--gateway-ws", required=True, help="the clawdbot gateway's WebSocket URL")
    ap.add_argument("--store-file", required=True, help="the main agent's sessions.json")
    ap.add_argument("--gateway-log", help="the gateway's log (counts its store-lock timeouts)")
    ap.add_argument("--metrics", help="clawshim's metrics URL")
    ap.add_argument("--token", default="secret")
    ap.add_argument("--foreign", type=int, required=True, help="foreign sessions put in the store")
    ap.add_argument("--conc-requests", type=int, default=64)
    ap.add_argument("--conc-workers", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    ap.add_argument("--header", action="store_true", help="print the table head first")
    ap.add_argument("--out", help="append the raw figures here (JSON lines)")
    args = ap.parse_args()

    entries, size = fill(args, args.foreign)
    print("  %d foreign sessions: store %d entries, %.1f MB" % (args.foreign, entries, size / 1e6),
          file=sys.stderr, flush=True)
    target = bench.Target("clawshim", args.clawshim, args.token, args.timeout)
    offset = log_size(args.gateway_log)
    conc, ok_lat = burst(target, args.conc_requests, args.conc_workers)
    locks = lock_lines(args.gateway_log, offset)
    m = metrics(args.metrics)
    row = {"foreign": args.foreign, "entries_before": entries, "store_bytes_before": size,
           "store_entries_after": len(read_store(args.store_file)), "conc": conc, "gateway_lock_timeouts": locks,
           "metrics": m}
    print("  %s" % json.dumps(row), file=sys.stderr, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")

    if args.header:
        print("| foreign sessions (store size) | errors of %d: lock timeout after `accepted` (502) +"
              " queue wait over 60 s (503) + other | successful req/s | p50 | p95 | wall |"
              " gateway lock timeouts (before / after `accepted`) | clawshim: limit at the end, retries,"
              " overload signals |" % args.conc_requests)
        print("|---|---|---|---|---|---|---|---|")
    signals = ", ".join("%s %d" % (k.split('"')[1], v) for k, v in sorted(m.items())
                        if k.startswith("clawshim_run_overloads_total{"))
    kinds = conc["error_kinds"]
    print("| %d (%.1f MB) | **%d**: %d + %d + %d | %.2f | %.0f ms | %.0f ms | %.1f s | %s | %s |" % (
        args.foreign, size / 1e6, conc["errors"], kinds["lock_after_accepted"], kinds["queue_wait"], kinds["other"],
        conc["ok_per_s"], bench.pct(ok_lat, 50) * 1000, bench.pct(ok_lat, 95) * 1000, conc["wall_s"],
        "%d / %d" % (locks["before_accepted"], locks["after_accepted"]) if locks else "-",
        "%d, %d, %s" % (m.get("clawshim_run_limit", -1), m.get("clawshim_run_retries_total", 0), signals or "none")
        if m else "-"))


if __name__ == "__main__":
    main()
