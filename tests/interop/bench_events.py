#!/usr/bin/env python3
"""Gateway event traffic per run: frames and bytes one clawshim instance receives from the
gateway for each of its runs, with 1 and with 4 instances on one gateway while another client
chats through the gateway's built-in endpoint.

Started by `run.sh --bench-events` with the instances already up (their metrics listeners
given with --metrics). Phase 1: instance 1 alone makes N sequential requests; phase 2: all
instances make N sequential requests each, at the same time. Frames and bytes come from each
instance's `clawshim_gateway_frames_received_total` / `_bytes_received_total` (copied from
the connection once a second, so the driver waits 2 s before reading them). Prints one
Markdown row per phase.
"""

import argparse
import os
import re
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Target  # noqa: E402


def counters(metrics_url):
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    def value(name):
        m = re.search(r"^%s (\S+)$" % name, text, re.M)
        return float(m.group(1)) if m else 0.0
    return value("clawshim_gateway_frames_received_total"), value("clawshim_gateway_bytes_received_total")


def run_phase(instances, n):
    before = [counters(m) for _, m in instances]
    errors = []

    def work(target):
        for _ in range(n):
            status, _, _, err = target.chat("events %s %s" % (target.name, uuid.uuid4().hex[:10]))
            if err:
                errors.append("%s %s" % (status, err))

    threads = [threading.Thread(target=work, args=(t,)) for t, _ in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(2.5)  # the counters are copied once a second
    after = [counters(m) for _, m in instances]
    frames = [(a[0] - b[0]) / n for a, b in zip(after, before)]
    sizes = [(a[1] - b[1]) / n for a, b in zip(after, before)]
    return sum(frames) / len(frames), sum(sizes) / len(sizes), errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True)
    ap.add_argument("--instance", action="append", required=True,
                    help="BASE_URL,METRICS_URL of one clawshim (repeat; the first is used alone)")
    ap.add_argument("--other", required=True, help="built-in base URL the other client chats through")
    ap.add_argument("--token", default="secret")
    ap.add_argument("--n", type=int, default=12)
    args = ap.parse_args()

    instances = []
    for i, spec in enumerate(args.instance):
        base, metrics = spec.split(",")
        instances.append((Target("clawshim%d" % (i + 1), base, args.token, 120), metrics))
    other = Target("other", args.other, args.token, 120)
    stop = threading.Event()
    other_runs = [0]

    def chat():
        while not stop.is_set():
            other.chat("another client %s" % uuid.uuid4().hex[:10])
            other_runs[0] += 1

    chatter = threading.Thread(target=chat)
    chatter.start()
    try:
        rows = []
        for count in (1, len(instances)):
            frames, size, errors = run_phase(instances[:count], args.n)
            rows.append("| %s | %d | %.1f | %.0f | %d |" % (args.label, count, frames, size, len(errors)))
            if errors:
                print("  errors: %s" % errors[:3], file=sys.stderr)
    finally:
        stop.set()
        chatter.join()
    print("| gateway | clawshim instances | frames received per run | bytes received per run | errors |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print("(another client made %d built-in requests meanwhile)" % other_runs[0])


if __name__ == "__main__":
    main()
