#!/usr/bin/env python3
"""Minimal gateway WebSocket client: asks the gateway itself what became of a run.

The interop suite uses it to check that clawshim really aborted a gateway run when its HTTP client
went away: it connects like clawshim does (token auth, `gateway-client`/`backend`, protocol 3..4),
then calls `agent.wait {runId, timeoutMs}` and prints the response payload as one JSON line.

    gateway_probe.py wait --url ws://127.0.0.1:18921 --token secret --run-id <id> [--timeout-ms 10000]
    gateway_probe.py call --url ws://127.0.0.1:18921 --token secret --method device.pair.list

Needs the `websockets` package (the suite's venv has it). Every wait is bounded.
"""

import argparse
import asyncio
import json
import sys
import uuid

import websockets


async def _recv_json(ws, deadline):
    loop = asyncio.get_running_loop()
    remaining = deadline - loop.time()
    if remaining <= 0:
        raise TimeoutError("gateway did not answer in time")
    return json.loads(await asyncio.wait_for(ws.recv(), remaining))


async def _request(ws, method, params, deadline):
    """Send one request and return its `res` frame (events in between are skipped)."""
    req_id = str(uuid.uuid4())
    await ws.send(json.dumps({"type": "req", "id": req_id, "method": method, "params": params}))
    while True:
        frame = await _recv_json(ws, deadline)
        if frame.get("type") == "res" and frame.get("id") == req_id:
            return frame


async def connect(url, token, deadline):
    """Open a socket and complete the connect handshake (v3 and v4 gateways alike)."""
    ws = await asyncio.wait_for(websockets.connect(url, max_size=64 * 1024 * 1024, open_timeout=10),
                                max(0.1, deadline - asyncio.get_running_loop().time()))
    # traces: gateway-lab simple (connect.challenge arrives first, unsolicited)
    while True:
        frame = await _recv_json(ws, deadline)
        if frame.get("type") == "event" and frame.get("event") == "connect.challenge":
            break
    res = await _request(ws, "connect", {
        "minProtocol": 3, "maxProtocol": 4,
        "client": {"id": "gateway-client", "version": "0.0.0-interop", "platform": "linux", "mode": "backend"},
        "role": "operator", "scopes": ["operator.admin"], "auth": {"token": token},
    }, deadline)
    if not res.get("ok"):
        await ws.close()
        raise RuntimeError("connect rejected: %s" % json.dumps(res.get("error")))
    return ws


async def agent_wait(url, token, run_id, timeout_ms=10000):
    """Return the `res` frame of `agent.wait {runId, timeoutMs}` (dict with ok/payload/error)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000.0 + 15
    ws = await connect(url, token, deadline)
    try:
        return await _request(ws, "agent.wait", {"runId": run_id, "timeoutMs": timeout_ms}, deadline)
    finally:
        await ws.close()


async def call(url, token, method, params, timeout_s=15.0):
    """Return the `res` frame of one request (any method) on a fresh connection."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    ws = await connect(url, token, deadline)
    try:
        return await _request(ws, method, params, deadline)
    finally:
        await ws.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["wait", "call"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--run-id", help="wait: the run to wait for")
    ap.add_argument("--timeout-ms", type=int, default=10000)
    ap.add_argument("--method", help="call: the method")
    ap.add_argument("--params", default="{}", help="call: the params, JSON")
    args = ap.parse_args()
    try:
        if args.command == "wait":
            res = asyncio.run(agent_wait(args.url, args.token, args.run_id, args.timeout_ms))
        else:
            res = asyncio.run(call(args.url, args.token, args.method, json.loads(args.params)))
    except Exception as exc:  # one JSON line either way, for the Node cases to parse
        print(json.dumps({"ok": False, "error": {"message": "%s: %s" % (type(exc).__name__, exc)}}))
        sys.exit(1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
