#!/usr/bin/env python3
"""Side-by-side figures on a real gateway: its built-in /v1/chat/completions vs clawshim.

Started by `run.sh --bench` (which brings up the real gateways, their mock LLMs and clawshim),
once per gateway version. For each side, with the agent's session store emptied first, in
--rounds rounds that alternate which side goes first (B C, C B, B C, ...: a machine whose speed
drifts during the run favours neither side; latencies are pooled over the rounds, throughput is
the median round's):

* seq: N sequential non-stream requests, latency p50/p95;
* stream: N sequential streams, time to the first content chunk p50/p95;
* conc: R requests from W workers (one request each at a time): errors, throughput;
* after: S stateless requests (W2 workers), then N2 sequential requests: latency p50 (the
  built-in leaves one session per request behind; clawshim removes its own).

Prints a Markdown table and writes the raw figures as JSON (--out). Python stdlib plus the
suite's gateway_probe.py (websockets) for emptying an openclaw session store. Every request
is bounded by a timeout; a failed request counts as an error with its status.
"""

import argparse
import asyncio
import concurrent.futures
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse
import uuid


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100.0 * (len(values) - 1))))
    return values[k]


class Target:
    def __init__(self, name, base_url, token, timeout):
        self.name = name
        u = urllib.parse.urlparse(base_url)
        self.host, self.port, self.path = u.hostname, u.port, u.path.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def chat(self, text, stream=False):
        """One request on a fresh connection. Returns (status, seconds to the end, seconds to
        the first content chunk or None, error text or None)."""
        body = json.dumps({"model": "openclaw/main", "stream": stream,
                           "messages": [{"role": "user", "content": text}]})
        headers = {"content-type": "application/json", "authorization": "Bearer " + self.token}
        t0 = time.perf_counter()
        conn = self._conn()
        try:
            conn.request("POST", self.path + "/chat/completions", body=body, headers=headers)
            res = conn.getresponse()
            if res.status != 200:
                return res.status, time.perf_counter() - t0, None, res.read()[:300].decode("utf-8", "replace")
            if not stream:
                data = json.loads(res.read())
                if "error" in data:  # a failure after clawshim's keep-alives committed the 200
                    return 200, time.perf_counter() - t0, None, "error in body: %s" % json.dumps(data["error"])[:300]
                content = data["choices"][0]["message"]["content"] or ""
                err = None if text in content else "reply does not echo the request: %r" % content[:120]
                return 200, time.perf_counter() - t0, None, err
            first, text_seen = None, ""
            while True:
                line = res.readline()
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                chunk = json.loads(payload)
                if "error" in chunk:
                    return 200, time.perf_counter() - t0, first, "stream error: %s" % chunk["error"]
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        text_seen += piece
                        if first is None:
                            first = time.perf_counter() - t0
            err = None if text in text_seen else "stream does not echo the request: %r" % text_seen[:120]
            return 200, time.perf_counter() - t0, first, err
        except Exception as e:  # noqa: BLE001 - every failure is one counted error
            return 0, time.perf_counter() - t0, None, "%s: %s" % (type(e).__name__, e)
        finally:
            conn.close()


def empty_store(args):
    """Empty the main agent's session store before a side (issue 12's method)."""
    if args.store_file:
        # clawdbot 2026.1.x: sessions.json, written under sessions.json.lock (O_EXCL, like
        # config/sessions/store.js); the gateway's cache notices the new mtime.
        lock = args.store_file + ".lock"
        os.makedirs(os.path.dirname(args.store_file), exist_ok=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise SystemExit("session store lock held for 30 s: %s" % lock)
                time.sleep(0.025)
        try:
            tmp = args.store_file + ".bench.tmp"
            with open(tmp, "w") as f:
                f.write("{}\n")
            os.replace(tmp, args.store_file)
        finally:
            os.close(fd)
            os.unlink(lock)
        return
    if args.gateway_ws:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import gateway_probe  # noqa: E402

        async def run():
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 300
            ws = await gateway_probe.connect(args.gateway_ws, args.token, deadline)
            try:
                res = await gateway_probe._request(ws, "sessions.list", {}, deadline)
                keys = [s.get("key") for s in (res.get("payload") or {}).get("sessions") or []]
                for key in keys:
                    if key and not key.endswith(":main"):
                        await gateway_probe._request(ws, "sessions.delete",
                                                     {"key": key, "deleteTranscript": False}, deadline)
                return len(keys)
            finally:
                await ws.close()

        asyncio.run(run())


def seq(target, n, stream):
    lat, errors = [], []
    for i in range(n):
        status, total, first, err = target.chat("bench %s %s" % (target.name, uuid.uuid4().hex[:10]), stream)
        if err:
            errors.append("%s %s" % (status, err))
        else:
            lat.append(first if stream else total)
    return {"n": n, "p50_ms": pct(lat, 50) * 1000, "p95_ms": pct(lat, 95) * 1000,
            "errors": len(errors), "error_samples": errors[:3], "lat": lat}


def burst(target, requests, workers):
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(
            lambda i: target.chat("conc %s %d %s" % (target.name, i, uuid.uuid4().hex[:8])), range(requests)))
    wall = time.perf_counter() - t0
    errors = ["%s %s" % (s, e) for s, _, _, e in results if e]
    lat = [t for _, t, _, e in results if not e]
    return {"requests": requests, "workers": workers, "errors": len(errors), "error_samples": errors[:3],
            "wall_s": wall, "ok_per_s": (requests - len(errors)) / wall, "p50_ms": pct(lat, 50) * 1000}


def side(args, target):
    out = {}
    empty_store(args)
    out["seq"] = seq(target, args.seq, False)
    out["stream"] = seq(target, args.streams, True)
    out["conc"] = burst(target, args.conc_requests, args.conc_workers)
    print("  %s: seq p50 %.0f ms, first content p50 %.0f ms, conc %d errors %.2f req/s"
          % (target.name, out["seq"]["p50_ms"], out["stream"]["p50_ms"], out["conc"]["errors"],
             out["conc"]["ok_per_s"]), file=sys.stderr, flush=True)
    return out


def after(args, target):
    empty_store(args)
    fill = burst(target, args.stateless, args.stateless_workers)
    late = seq(target, args.after_seq, False)
    print("  %s: after %d stateless (%d errors): seq p50 %.0f ms"
          % (target.name, args.stateless, fill["errors"], late["p50_ms"]), file=sys.stderr, flush=True)
    return {"fill": fill, "seq": late}


def merge_rounds(rounds):
    """One side's figures over its rounds: latency percentiles of every sample, errors summed,
    throughput of the median round."""
    def pooled(kind):
        lat = [x for r in rounds for x in r[kind]["lat"]]
        return {"n": sum(r[kind]["n"] for r in rounds), "p50_ms": pct(lat, 50) * 1000,
                "p95_ms": pct(lat, 95) * 1000, "errors": sum(r[kind]["errors"] for r in rounds),
                "error_samples": [e for r in rounds for e in r[kind]["error_samples"]][:3]}
    conc = sorted((r["conc"] for r in rounds), key=lambda c: c["ok_per_s"])
    mid = dict(conc[len(conc) // 2])
    mid["errors"] = sum(c["errors"] for c in conc)
    mid["rounds_ok_per_s"] = [c["ok_per_s"] for c in conc]
    return {"seq": pooled("seq"), "stream": pooled("stream"), "conc": mid,
            "rounds": len(rounds)}


def ratio(a, b):
    return a / b if b else float("nan")


def table(label, res):
    b, c = res["builtin"], res["clawshim"]
    rows = [
        ("seq p50 (%d sequential)" % b["seq"]["n"], "%.0f ms" % b["seq"]["p50_ms"], "%.0f ms" % c["seq"]["p50_ms"],
         "%.2fx" % ratio(c["seq"]["p50_ms"], b["seq"]["p50_ms"])),
        ("stream first content p50 (%d streams)" % b["stream"]["n"], "%.0f ms" % b["stream"]["p50_ms"],
         "%.0f ms" % c["stream"]["p50_ms"], "%.2fx" % ratio(c["stream"]["p50_ms"], b["stream"]["p50_ms"])),
        ("%d requests at concurrency %d: errors" % (b["conc"]["requests"], b["conc"]["workers"]),
         str(b["conc"]["errors"]), str(c["conc"]["errors"]), ""),
        ("%d requests at concurrency %d: successful req/s" % (b["conc"]["requests"], b["conc"]["workers"]),
         "%.2f" % b["conc"]["ok_per_s"], "%.2f" % c["conc"]["ok_per_s"],
         "%.2fx" % ratio(c["conc"]["ok_per_s"], b["conc"]["ok_per_s"])),
    ]
    if "after" in res:
        ba, ca = res["after"]["builtin"], res["after"]["clawshim"]
        rows.append(("seq p50 after %d stateless requests (%d errors / %d errors while filling)"
                     % (ba["fill"]["requests"], ba["fill"]["errors"], ca["fill"]["errors"]),
                     "%.0f ms" % ba["seq"]["p50_ms"], "%.0f ms" % ca["seq"]["p50_ms"],
                     "%.2fx" % ratio(ca["seq"]["p50_ms"], ba["seq"]["p50_ms"])))
    if b.get("rounds", 1) > 1:
        rows.append(("successful req/s per round (sorted)",
                     " ".join("%.2f" % x for x in b["conc"]["rounds_ok_per_s"]),
                     " ".join("%.2f" % x for x in c["conc"]["rounds_ok_per_s"]), ""))
    lines = ["| %s | built-in | clawshim | clawshim / built-in |" % label, "|---|---|---|---|"]
    lines += ["| %s |" % " | ".join(r) for r in rows]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True, help="e.g. 'clawdbot 2026.1.24 (v3)'")
    ap.add_argument("--builtin", required=True, help="built-in base URL, e.g. http://127.0.0.1:18911/v1")
    ap.add_argument("--clawshim", required=True, help="clawshim base URL, e.g. http://127.0.0.1:18912/v1")
    ap.add_argument("--token", default="secret")
    ap.add_argument("--store-file", help="clawdbot sessions.json of the main agent (emptied by rewriting)")
    ap.add_argument("--gateway-ws", help="openclaw WebSocket URL (store emptied with sessions.delete)")
    ap.add_argument("--seq", type=int, default=60)
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--conc-requests", type=int, default=64)
    ap.add_argument("--conc-workers", type=int, default=32)
    ap.add_argument("--stateless", type=int, default=1000, help="0 skips the 'after' phase")
    ap.add_argument("--stateless-workers", type=int, default=4)
    ap.add_argument("--after-seq", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of seq, stream, conc")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--out", help="write the raw figures here (JSON)")
    args = ap.parse_args()

    builtin = Target("builtin", args.builtin, args.token, args.timeout)
    shim = Target("clawshim", args.clawshim, args.token, args.timeout)
    print("%s:" % args.label, file=sys.stderr, flush=True)
    rounds = {"builtin": [], "clawshim": []}
    for r in range(max(1, args.rounds)):
        order = [builtin, shim] if r % 2 == 0 else [shim, builtin]
        for target in order:
            rounds[target.name].append(side(args, target))
    res = {"label": args.label, "builtin": merge_rounds(rounds["builtin"]),
           "clawshim": merge_rounds(rounds["clawshim"])}
    if args.stateless > 0:
        res["after"] = {"builtin": after(args, builtin), "clawshim": after(args, shim)}
    empty_store(args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    print(table(args.label, res))


if __name__ == "__main__":
    main()
