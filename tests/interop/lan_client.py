#!/usr/bin/env python3
"""A client on another host of the LAN, run inside a network namespace of the suite's own
(`ip netns exec`), talking to clawshim on the host side of a veth pair. Checks what the
gateway's owner cares about when clawshim is the LAN door:

- the OpenAI API answers (chat completion through clawshim);
- the Control UI page and its WebSocket pass through to the gateway (challenge, connect,
  agents.list), with a spoofed X-Forwarded-For that clawshim must replace by what it saw;
- on openclaw 2026.9 (trustedProxies = loopback) the gateway accepted the attribution (it
  answers 403 proxy_attribution_required otherwise) and treats the client as remote: a
  token-only connection gets no scopes, as it would without a proxy in between (with no
  attribution every LAN client would look local and get them);
- on clawdbot 2026.1, which records client addresses in its presence list, the spoofed address
  is not there.

Prints one JSON object {"status": "pass"|"fail", "reason": ...}; exit code 0 either way.
"""

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request
import uuid

SPOOF = "203.0.113.66"


def fail(reason):
    print(json.dumps({"status": "fail", "reason": reason}))
    sys.exit(0)


def http(url, token=None, body=None):
    headers = {"X-Forwarded-For": SPOOF, "X-Real-IP": SPOOF}
    data = None
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get("content-type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("content-type", ""), err.read()


async def ws_session(url, token, my_ip):
    import websockets
    async with websockets.connect(url, additional_headers={"X-Forwarded-For": SPOOF},
                                  open_timeout=10, max_size=64 * 1024 * 1024) as ws:
        async def frame():
            return json.loads(await asyncio.wait_for(ws.recv(), 15))

        async def call(method, params):
            rid = str(uuid.uuid4())
            await ws.send(json.dumps({"type": "req", "id": rid, "method": method, "params": params}))
            while True:
                res = await frame()
                if res.get("type") == "res" and res.get("id") == rid:
                    return res

        first = await frame()
        if first.get("event") != "connect.challenge":
            return "no connect.challenge through clawshim: %s" % json.dumps(first)[:200]
        hello = await call("connect", {
            "minProtocol": 3, "maxProtocol": 4,
            "client": {"id": "gateway-client", "version": "0.0.0-interop", "platform": "linux", "mode": "backend"},
            "role": "operator", "scopes": ["operator.admin"], "auth": {"token": token}})
        if not hello.get("ok"):
            return "connect through clawshim refused: %s" % json.dumps(hello.get("error"))[:300]
        auth = (hello.get("payload") or {}).get("auth")
        if auth is not None:
            # openclaw 2026.9 grants a token-only client scopes only when it is local; through
            # clawshim a LAN client must be seen as what it is: remote (openclaw-lab README,
            # token-only row). Scopes here would mean the gateway took it for a local client.
            if auth.get("scopes"):
                return "the gateway granted %s: it took the LAN client for a local one" % auth.get("scopes")
            return ""
        agents = await call("agents.list", {})
        if not agents.get("ok"):
            return "agents.list through clawshim failed: %s" % json.dumps(agents.get("error"))[:300]
        presence = await call("system-presence", {})
        ips = [p.get("ip") for p in (presence.get("payload") or []) if isinstance(p, dict) and p.get("ip")] \
            if isinstance(presence.get("payload"), list) else []
        if SPOOF in ips:
            return "the gateway recorded the spoofed client address %s" % SPOOF
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="http://<clawshim host side>:<port>")
    ap.add_argument("--token", required=True)
    ap.add_argument("--my-ip", required=True)
    args = ap.parse_args()

    status, _, body = http(args.base + "/v1/chat/completions", args.token,
                           {"model": "openclaw/main", "messages": [{"role": "user", "content": "from the lan"}]})
    if status != 200:
        fail("chat completion from the LAN: HTTP %d %s" % (status, body[:200].decode(errors="replace")))
    reply = json.loads(body)["choices"][0]["message"]["content"]
    if reply != "echo: from the lan":
        fail("unexpected reply %r" % reply)

    status, ctype, body = http(args.base + "/")
    if status != 200 or not ctype.startswith("text/html"):
        fail("Control UI through clawshim: HTTP %d %s %s" % (status, ctype, body[:200].decode(errors="replace")))

    problem = asyncio.run(ws_session("ws" + args.base[len("http"):] + "/", args.token, args.my_ip))
    if problem:
        fail(problem)
    print(json.dumps({"status": "pass", "reason": ""}))


if __name__ == "__main__":
    main()
