#!/usr/bin/env python3
"""Soak: a steady mix of traffic through clawshim for a set time, with the mock gateway
killed and restarted every few minutes; reports clawshim's RSS, open descriptors, threads
and latency at start and end, and fails unless every request ended as it should and RSS and
descriptors stayed flat.

The mix, from `--workers` clients sending back to back: streams (own text exactly, `stop`,
`[DONE]`), non-stream requests (own text), clients that disconnect mid-stream, and bad
requests (invalid JSON, no messages, unknown model, wrong method: each must get its OpenAI
error and status). A request in flight while the gateway is down (from the kill until
clawshim is ready again, plus `--restart-margin` seconds) may instead end with the gateway
error clawshim gives then (503 or 502 `gateway_disconnected` JSON, or in a stream already
answered an error event then `[DONE]`); any other
outcome, a hang past `--timeout` included, counts as broken.

Flat: the median of the samples (every `--sample` s) in the last `--window` seconds is at
most `--rss-tolerance` (fraction) plus `--rss-slack-mib` above the median of the first
`--window` seconds after `--warmup`, and descriptors at most `--fd-slack` above. Exit status
0 only when nothing broke and both are flat. Started by benches/soak.sh; standard library only.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shimproc  # noqa: E402


def proc_figures(pid):
    """(RSS in KiB, open descriptors, threads) of `pid`."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


class Soak:
    def __init__(self, args, procs):
        self.args = args
        self.procs = procs
        self.host, self.port = "127.0.0.1", procs.shim_port
        self.t0 = time.monotonic()
        self.stop_at = self.t0 + args.duration
        # [kill time, ready time or None]: requests overlapping these may end in a gateway error.
        self.outages = []
        self.counts = {}
        self.broken = []
        self.latency = []  # (start offset, seconds) of non-stream requests outside outages
        self.samples = []  # (offset, rss KiB, fds, threads)
        self.seq = 0

    def now(self):
        return time.monotonic() - self.t0

    def count(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1

    def in_outage(self, start, end):
        margin = self.args.restart_margin
        for down, up in self.outages:
            up = (up if up is not None else float("inf")) + margin
            if start <= up and end >= down:
                return True
        return False

    def fail(self, kind, start, detail):
        end = self.now()
        self.count(f"{kind}: BROKEN")
        self.broken.append(f"{start:7.1f}s {kind}: {detail}")

    def body(self, text, stream):
        return json.dumps(
            {
                "model": "openclaw/main",
                "stream": stream,
                "messages": [{"role": "user", "content": text}],
            }
        ).encode()

    def word(self):
        self.seq += 1
        return f"soak{self.seq}-{random.randrange(1 << 30)}"

    async def call(self, *a, **kw):
        return await asyncio.wait_for(
            shimproc.request(self.host, self.port, *a, **kw), self.args.timeout
        )

    async def stream(self):
        start, word = self.now(), self.word()
        expected = f"echo: {word}"
        try:
            status, _, payload = await self.call(
                shimproc.TOKEN, "POST", "/v1/chat/completions", self.body(word, True)
            )
        except (asyncio.TimeoutError, OSError) as err:
            return self.fail("stream", start, f"{type(err).__name__} {err}")
        events = shimproc.sse_data(payload) if status == 200 else []
        texts, error, finish = [], None, None
        for data in events:
            if data == "[DONE]":
                continue
            chunk = json.loads(data)
            if "error" in chunk:
                error = chunk["error"]
            for choice in chunk.get("choices", []):
                texts.append(choice.get("delta", {}).get("content") or "")
                finish = choice.get("finish_reason") or finish
        done = bool(events) and events[-1] == "[DONE]"
        if status == 200 and error is None and done and finish == "stop" and "".join(texts) == expected:
            return self.count("stream: ok")
        # Before the first byte: 503 (no gateway) or 502 `gateway_disconnected` as JSON;
        # after it: an error event, then `[DONE]`.
        gateway_error = (status in (502, 503) and b'"error"' in payload) or (
            status == 200 and error is not None and done
        )
        if gateway_error and self.in_outage(start, self.now()):
            return self.count("stream: gateway error during a restart")
        self.fail("stream", start, f"status {status}, error {error}, [DONE] {done}, text {''.join(texts)!r}")

    async def non_stream(self):
        start, word = self.now(), self.word()
        try:
            status, _, payload = await self.call(
                shimproc.TOKEN, "POST", "/v1/chat/completions", self.body(word, False)
            )
        except (asyncio.TimeoutError, OSError) as err:
            return self.fail("non-stream", start, f"{type(err).__name__} {err}")
        end = self.now()
        try:
            answer = json.loads(payload)
        except ValueError:
            return self.fail("non-stream", start, f"status {status}, not JSON {payload[:80]!r}")
        if status == 200 and answer["choices"][0]["message"]["content"] == f"echo: {word}":
            if not self.in_outage(start, end):
                self.latency.append((start, end - start))
            return self.count("non-stream: ok")
        if status in (502, 503) and "error" in answer and self.in_outage(start, end):
            return self.count("non-stream: gateway error during a restart")
        self.fail("non-stream", start, f"status {status}: {payload[:160]!r}")

    async def disconnect(self):
        """A stream whose client goes away after the first bytes (`MOCK_SLOW`: a long run)."""
        start = self.now()
        body = self.body(f"{self.word()} MOCK_SLOW", True)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.args.timeout
            )
            writer.write(shimproc.head(self.host, self.port, shimproc.TOKEN, "POST",
                                       "/v1/chat/completions", body) + body)
            await writer.drain()
            first = await asyncio.wait_for(reader.read(256), self.args.timeout)
            writer.transport.abort()
        except (asyncio.TimeoutError, OSError) as err:
            return self.fail("disconnect", start, f"{type(err).__name__} {err}")
        if first.startswith(b"HTTP/1.1 200"):
            return self.count("disconnect: ok")
        gateway_error = first.startswith(b"HTTP/1.1 502") or first.startswith(b"HTTP/1.1 503")
        if gateway_error and self.in_outage(start, self.now()):
            return self.count("disconnect: gateway error during a restart")
        self.fail("disconnect", start, f"first bytes {first[:60]!r}")

    async def bad(self):
        start = self.now()
        # No wrong token here: clawshim's failed-auth limiter would (rightly) block this
        # client's address, and every request after it.
        case = random.choice(["json", "messages", "model", "method"])
        token, body, want, method = shimproc.TOKEN, b"", 0, "POST"
        if case == "json":
            body, want = b'{"model": "openclaw/main", "messages": [', 400
        elif case == "messages":
            body, want = b'{"model": "openclaw/main"}', 400
        elif case == "model":
            body = json.dumps({"model": "openclaw/no-such-agent",
                               "messages": [{"role": "user", "content": "x"}]}).encode()
            want = 404
        else:
            method, want = "GET", 405
        try:
            status, _, payload = await self.call(token, method, "/v1/chat/completions", body)
        except (asyncio.TimeoutError, OSError) as err:
            return self.fail(f"bad {case}", start, f"{type(err).__name__} {err}")
        try:
            error = json.loads(payload)["error"]
            complete = all(k in error for k in ("message", "type", "param", "code"))
        except (ValueError, KeyError, TypeError):
            complete = False
        if status == want and complete:
            return self.count("bad request: right error")
        # The unknown agent is checked against the gateway's list: 503 while it is down.
        if case == "model" and status == 503 and self.in_outage(start, self.now()):
            return self.count("bad request: gateway error during a restart")
        self.fail(f"bad {case}", start, f"status {status} (want {want}): {payload[:160]!r}")

    async def worker(self):
        kinds = [self.stream] * 4 + [self.non_stream] * 3 + [self.disconnect] + [self.bad] * 2
        while time.monotonic() < self.stop_at:
            await random.choice(kinds)()

    async def sampler(self):
        pid = self.procs.shim.pid
        while time.monotonic() < self.stop_at:
            rss, fds, threads = proc_figures(pid)
            self.samples.append((self.now(), rss, fds, threads))
            await asyncio.sleep(self.args.sample)

    async def restarter(self):
        every = self.args.restart_every
        next_at = every
        while True:
            delay = self.t0 + next_at - time.monotonic()
            if next_at >= self.args.duration - self.args.window or delay <= 0 and time.monotonic() >= self.stop_at:
                return
            await asyncio.sleep(max(0.0, delay))
            outage = [self.now(), None]
            self.outages.append(outage)
            await asyncio.to_thread(self.procs.restart_mock)
            await asyncio.to_thread(shimproc.wait_ready, self.host, self.port, self.procs.shim)
            outage[1] = self.now()
            print(f"  {outage[0]:6.1f}s mock gateway killed and restarted; clawshim ready again "
                  f"after {outage[1] - outage[0]:.2f} s", flush=True)
            next_at += every

    async def run(self):
        tasks = [self.worker() for _ in range(self.args.workers)]
        await asyncio.gather(self.sampler(), self.restarter(), *tasks)


def window(samples, lo, hi):
    return [s for s in samples if lo <= s[0] < hi]


def med(rows, i):
    return statistics.median(r[i] for r in rows) if rows else float("nan")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def report(soak, args):
    d, w = args.duration, args.window
    start = window(soak.samples, args.warmup, args.warmup + w)
    end = window(soak.samples, d - w, d + 1)
    rss0, rss1 = med(start, 1) / 1024, med(end, 1) / 1024
    fd0, fd1 = med(start, 2), med(end, 2)
    th0, th1 = med(start, 3), med(end, 3)
    lat0 = [s for t, s in soak.latency if args.warmup <= t < args.warmup + w]
    lat1 = [s for t, s in soak.latency if t >= d - w]
    total = sum(soak.counts.values())
    print(f"\nsoak: {d:.0f} s, {args.workers} clients, mock gateway restarted "
          f"{len(soak.outages)} times (every {args.restart_every:.0f} s)")
    print(f"requests: {total}")
    for key in sorted(soak.counts):
        print(f"  {soak.counts[key]:7d}  {key}")
    print(f"broken: {len(soak.broken)}")
    for line in soak.broken[:20]:
        print(f"  {line}")
    peak = max(soak.samples, key=lambda s: s[1]) if soak.samples else (0, 0, 0, 0)
    print(f"\n| clawshim (pid {soak.procs.shim.pid}) | start ({args.warmup:.0f}-{args.warmup + w:.0f} s) "
          f"| end (last {w:.0f} s) | max |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| RSS (MiB, median) | {rss0:.1f} | {rss1:.1f} | {peak[1] / 1024:.1f} |")
    print(f"| open fds (median) | {fd0:.0f} | {fd1:.0f} | {max(s[2] for s in soak.samples)} |")
    print(f"| threads (median) | {th0:.0f} | {th1:.0f} | {max(s[3] for s in soak.samples)} |")
    print(f"| non-stream latency p50 (ms) | {pct(lat0, .5) * 1e3:.0f} | {pct(lat1, .5) * 1e3:.0f} | |")
    print(f"| non-stream latency p95 (ms) | {pct(lat0, .95) * 1e3:.0f} | {pct(lat1, .95) * 1e3:.0f} | |")
    rss_limit = rss0 * (1 + args.rss_tolerance) + args.rss_slack_mib
    fd_limit = fd0 + args.fd_slack
    rss_flat = rss1 <= rss_limit
    fd_flat = fd1 <= fd_limit
    print(f"\nRSS flat (end <= {rss_limit:.1f} MiB = start x {1 + args.rss_tolerance:.2f} + "
          f"{args.rss_slack_mib:.0f} MiB): {'yes' if rss_flat else 'NO'}")
    print(f"fds flat (end <= {fd_limit:.0f} = start + {args.fd_slack}): {'yes' if fd_flat else 'NO'}")
    with open(os.path.join(soak.procs.dir, "samples.tsv"), "w") as f:
        f.write("seconds\trss_kib\tfds\tthreads\n")
        for s in soak.samples:
            f.write(f"{s[0]:.1f}\t{s[1]}\t{s[2]}\t{s[3]}\n")
    print(f"samples: {os.path.join(soak.procs.dir, 'samples.tsv')}; clawshim log: {soak.procs.shim_log}")
    return 0 if (not soak.broken and rss_flat and fd_flat) else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds (10 minutes)")
    p.add_argument("--workers", type=int, default=8, help="clients sending back to back")
    p.add_argument("--restart-every", type=float, default=150.0, help="seconds between mock restarts")
    p.add_argument("--restart-margin", type=float, default=2.0,
                   help="seconds after clawshim is ready again during which gateway errors are expected")
    p.add_argument("--protocol", type=int, choices=(3, 4), default=4)
    p.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    p.add_argument("--sample", type=float, default=2.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds before the start window")
    p.add_argument("--window", type=float, default=60.0, help="start and end window, seconds")
    p.add_argument("--rss-tolerance", type=float, default=0.10)
    p.add_argument("--rss-slack-mib", type=float, default=4.0)
    p.add_argument("--fd-slack", type=int, default=8)
    args = p.parse_args()
    if args.duration < args.warmup + 2 * args.window:
        p.error("--duration must cover --warmup and two --window")
    procs = shimproc.Processes(protocol=args.protocol)
    procs.start()
    try:
        print(f"soak: clawshim pid {procs.shim.pid} ({procs.shim_bin}), mock {procs.mock_bin}", flush=True)
        soak = Soak(args, procs)
        asyncio.run(soak.run())
        alive = procs.shim.poll() is None
        if not alive:
            soak.broken.append(f"clawshim exited with {procs.shim.returncode}")
        status = report(soak, args)
    finally:
        procs.stop()
    sys.exit(status)


if __name__ == "__main__":
    main()
