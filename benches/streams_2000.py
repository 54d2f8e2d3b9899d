#!/usr/bin/env python3
"""N concurrent streams through clawshim, each checked to receive exactly its own text.

Every client sends a unique word (`s<index>-<random>`); the mock gateway answers
`echo: hello stream <word>` in word-split deltas. A client passes when its stream has HTTP 200,
no error event, a `finish_reason` of `stop`, `[DONE]`, and the concatenated deltas equal its
own echo exactly (so a stray delta of another run, a lost delta or a doubled one all fail).

By default it starts its own processes: the mock gateway (`clawshim-mock-gateway`, its own
process, like a real gateway) and clawshim in front of it, both from the workspace target
directory (`cargo build -p clawshim-proxy -p clawshim-mock-gateway`). `--url` points it at a
clawshim already running instead (e.g. `clawshim demo`).

    python3 benches/streams_2000.py                       # 2,000 streams, protocol 3 (1.5 MB rule)
    python3 benches/streams_2000.py --protocol 4 -n 2000  # openclaw (50 MB rule)
    python3 benches/streams_2000.py --url http://127.0.0.1:8790 --token demo

Exit status 0 only when every client passed. Standard library only.
"""

import argparse
import asyncio
import json
import os
import random
import string
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shimproc  # noqa: E402


async def one_stream(host, port, token, index, tag, timeout):
    """Runs one stream; returns (ok, detail, seconds)."""
    word = f"s{index}-{tag}"
    expected = f"echo: hello stream {word}"
    body = json.dumps(
        {
            "model": "openclaw/main",
            "stream": True,
            "messages": [{"role": "user", "content": f"hello stream {word}"}],
        }
    ).encode()
    started = time.monotonic()
    try:
        status, events = await asyncio.wait_for(
            shimproc.post_sse(host, port, token, body), timeout
        )
    except asyncio.TimeoutError:
        return False, "timed out", time.monotonic() - started
    except OSError as err:
        return False, f"connection: {err}", time.monotonic() - started
    elapsed = time.monotonic() - started
    if status != 200:
        return False, f"status {status}", elapsed
    text, finish, done, error = [], None, False, None
    for data in events:
        if data == "[DONE]":
            done = True
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            return False, f"bad event {data[:80]!r}", elapsed
        if "error" in chunk:
            error = chunk["error"].get("message") or chunk["error"]
            continue
        for choice in chunk.get("choices", []):
            delta = choice.get("delta", {}).get("content")
            if delta:
                text.append(delta)
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
    got = "".join(text)
    if error is not None:
        return False, f"error event: {error}", elapsed
    if not done:
        return False, "no [DONE]", elapsed
    if finish != "stop":
        return False, f"finish_reason {finish}", elapsed
    if got != expected:
        return False, f"text {got[:120]!r} != {expected!r}", elapsed
    return True, "", elapsed


async def run(args):
    procs = None
    if args.url:
        host, port = shimproc.host_port(args.url)
        token = args.token
    else:
        procs = shimproc.Processes(
            protocol=args.protocol,
            chunk_delay_ms=args.chunk_delay_ms,
            threads=args.threads,
            extra_env={
                "CLAWSHIM_GATEWAY_SOCKETS": str(args.sockets),
                # Every stream is its own client connection, all from 127.0.0.1.
                "CLAWSHIM_MAX_CONNECTIONS": str(max(2048, args.streams + 64)),
                "CLAWSHIM_MAX_CONNECTIONS_PER_ADDRESS": str(max(2048, args.streams + 64)),
            },
        )
        procs.start()
        host, port = "127.0.0.1", procs.shim_port
        token = shimproc.TOKEN
    try:
        tag = "".join(random.choices(string.ascii_lowercase, k=6))
        cpu0 = shimproc.thread_cpu(procs.shim.pid) if procs else {}
        mock0 = shimproc.thread_cpu(procs.mock.pid) if procs else {}
        t0 = time.monotonic()
        results = await asyncio.gather(
            *(
                one_stream(host, port, token, i, tag, args.timeout)
                for i in range(args.streams)
            )
        )
        wall = time.monotonic() - t0
        cpu1 = shimproc.thread_cpu(procs.shim.pid) if procs else {}
        mock1 = shimproc.thread_cpu(procs.mock.pid) if procs else {}
        ok = sum(1 for r in results if r[0])
        failures = {}
        for passed, detail, _ in results:
            if not passed:
                key = detail.split(":")[0] if detail.startswith("text") else detail
                failures[key] = failures.get(key, 0) + 1
        times = sorted(r[2] for r in results)
        pct = lambda p: times[min(len(times) - 1, int(p * len(times)))]  # noqa: E731
        print(
            f"streams: {args.streams} at once, protocol {args.protocol if not args.url else '?'}"
            + (f", {args.sockets} gateway sockets" if not args.url else "")
        )
        print(f"passed (own text exactly, stop, [DONE]): {ok}")
        print(f"failed: {args.streams - ok}")
        for detail, count in sorted(failures.items(), key=lambda kv: -kv[1]):
            print(f"  {count} x {detail}")
        print(
            f"wall {wall:.2f} s; per stream p50 {pct(0.5):.2f} s, p99 {pct(0.99):.2f} s, max {times[-1]:.2f} s"
        )
        if procs is not None:
            used = {k: v - cpu0.get(k, 0.0) for k, v in cpu1.items()}
            busy = ", ".join(f"{k} {v:.2f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v > 0)
            print(f"CPU seconds, clawshim threads: {busy}")
            time.sleep(2.5)  # the mock reports its peak every 2 s
            peaks = [l.strip() for l in open(procs.mock_log, errors="replace") if l.startswith("peak")]
            print(f"mock gateway: {peaks[-1] if peaks else 'no unsent bytes reported'}")
            print(f"CPU seconds, mock gateway: {sum(mock1.values()) - sum(mock0.values()):.2f}")
            print(f"clawshim log: {procs.shim_log}; mock log: {procs.mock_log}")
            if procs.gateway_disconnects():
                print(f"gateway disconnects seen in the clawshim log: {procs.gateway_disconnects()}")
        return 0 if ok == args.streams else 1
    finally:
        if procs is not None:
            procs.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--streams", type=int, default=2000)
    p.add_argument("--protocol", type=int, choices=(3, 4), default=3)
    p.add_argument("--chunk-delay-ms", type=int, default=20,
                   help="the mock's pause before each delta (its default, 20)")
    p.add_argument("--threads", type=int, default=2, help="clawshim worker threads")
    p.add_argument("--sockets", type=int, default=2, help="clawshim's gateway sockets (gateway.sockets)")
    p.add_argument("--timeout", type=float, default=120.0, help="per stream, seconds")
    p.add_argument("--url", help="a clawshim already running (else both are started here)")
    p.add_argument("--token", default="demo", help="client token with --url")
    args = p.parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
