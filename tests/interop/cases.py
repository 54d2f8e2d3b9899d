#!/usr/bin/env python3
"""Interop cases, official `openai` Python SDK: one target (clawshim or a gateway's built-in endpoint).

run.sh calls this once per target with the venv's Python. Each case yields pass, fail(reason) or
n/a(reason); the results go to --out as JSON for report.py. The same cases, with the same names
and checks, are in cases.mjs for the Node SDK.

The checks that need to see what reached the LLM ask the mock (`GET /__mock__/requests?contains=`)
for the requests carrying a per-case nonce. Agent `beta` is configured with the mock model
`mock-echo-beta`, so the model name in those requests tells which agent ran.

Every SDK call has a 60 s timeout and no retries; every case is bounded as a whole too.
"""

import argparse
import asyncio
import base64
import concurrent.futures
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import struct
import uuid
import zlib

import openai

CASE_TIMEOUT_S = 150
REQUEST_TIMEOUT_S = 60
MAIN, BETA, BROKEN = "openclaw/main", "openclaw/beta", "openclaw/broken"
AGENT_HEADER = "x-openclaw-agent-id"
RUN_ID_HEADER = "x-clawshim-run-id"
PARALLEL = 20


class Fail(Exception):
    """The case failed; the message is the footnote."""


class NotApplicable(Exception):
    """The case does not apply to this target; the message says why."""


def nonce():
    return uuid.uuid4().hex[:10]


def check(cond, reason):
    if not cond:
        raise Fail(reason)


def short(value, n=160):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


class Target:
    def __init__(self, args):
        self.args = args
        self.kind = args.kind
        self.protocol = args.protocol
        self.client = openai.OpenAI(base_url=args.base_url, api_key=args.token,
                                    timeout=REQUEST_TIMEOUT_S, max_retries=0)

    def async_client(self):
        return openai.AsyncOpenAI(base_url=self.args.base_url, api_key=self.args.token,
                                  timeout=REQUEST_TIMEOUT_S, max_retries=0)

    def mock_requests(self, needle):
        """Chat requests the mock LLM received whose messages contain `needle`."""
        url = "%s/__mock__/requests?contains=%s" % (self.args.mock_url, urllib.parse.quote(needle))
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp)["requests"]

    def mock_request_for(self, needle):
        found = self.mock_requests(needle)
        check(found, "the mock LLM received no request containing %r" % needle)
        return found[-1]

    def chat(self, text, model=MAIN, **kw):
        messages = kw.pop("messages", None) or [{"role": "user", "content": text}]
        return self.client.chat.completions.create(model=model, messages=messages, **kw)

    def reply_of(self, completion):
        check(completion.choices, "no choices in the response")
        return completion.choices[0].message.content


def expect_echo(reply, text):
    check(reply == "echo: " + text, "reply %r, expected %r" % (short(reply), short("echo: " + text)))


def collect_stream(stream):
    chunks = list(stream)
    content = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)
    return chunks, content


# ------------------------------------------------------------------ cases

def raw_get(t, path):
    """Status and content type of a GET without the SDK, for failure reasons."""
    req = urllib.request.Request(t.args.base_url + path, headers={"authorization": "Bearer " + t.args.token})
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
            return "HTTP %d %s" % (resp.status, resp.headers.get("content-type"))
    except urllib.error.HTTPError as exc:
        return "HTTP %d %s" % (exc.code, exc.headers.get("content-type"))


def case_models(t):
    try:
        ids = [m.id for m in t.client.models.list().data]
    except (AttributeError, TypeError, ValueError):  # the SDK got something that is not a list
        raise Fail("GET /models did not return a model list (%s)" % raw_get(t, "/models"))
    if MAIN not in ids:
        raise Fail("models list %s lacks %s (GET /models: %s)" % (short(ids), MAIN, raw_get(t, "/models")))
    model = t.client.models.retrieve(MAIN)
    check(model.id == MAIN, "retrieve(%s) returned id %r" % (MAIN, model.id))


def case_non_stream(t):
    text = "hello non-stream %s" % nonce()
    r = t.chat(text)
    check(r.object == "chat.completion", "object %r" % r.object)
    check(r.choices and r.choices[0].message.role == "assistant", "no assistant message")
    expect_echo(t.reply_of(r), text)
    check(r.choices[0].finish_reason == "stop", "finish_reason %r" % r.choices[0].finish_reason)


def raw_sse_lines(t, body):
    """POST without the SDK and return the `data:` payloads of the SSE body, in order."""
    req = urllib.request.Request(t.args.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                 method="POST", headers={"authorization": "Bearer " + t.args.token,
                                                         "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
            text = resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise Fail("raw stream: HTTP %d" % exc.code)
    return [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]


def case_stream(t):
    text = "hello stream %s with several words" % nonce()
    chunks, content = collect_stream(t.chat(text, stream=True))
    check(chunks, "no chunks")
    first = chunks[0]
    check(first.choices and first.choices[0].delta.role == "assistant",
          "first chunk is not a role chunk: %s" % short(first.model_dump_json()))
    check(content == "echo: " + text, "streamed content %r" % short(content))
    with_choices = [c for c in chunks if c.choices]
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    check(finishes == ["stop"], "finish reasons seen %r, expected one 'stop' chunk" % finishes)
    check(with_choices[-1].choices[0].finish_reason == "stop", "the finish chunk is not the last chunk")
    check(all(c.object == "chat.completion.chunk" for c in chunks), "a chunk with another object type")
    # the SDK ends quietly on EOF too, so check the wire: the last event must be [DONE]
    lines = raw_sse_lines(t, {"model": MAIN, "stream": True,
                              "messages": [{"role": "user", "content": "done check %s" % nonce()}]})
    check(lines and lines[-1] == "[DONE]", "the stream does not end with data: [DONE] (last: %r)"
          % short(lines[-1] if lines else None))


def case_stream_usage(t):
    text = "usage please %s" % nonce()
    chunks, content = collect_stream(t.chat(text, stream=True, stream_options={"include_usage": True}))
    check(content == "echo: " + text, "streamed content %r" % short(content))
    check(chunks, "no chunks")
    last = chunks[-1]
    check(last.choices == [], "no usage chunk: the last chunk has choices")
    u = last.usage
    check(u is not None, "last chunk has no usage")
    check(all(isinstance(x, int) for x in (u.prompt_tokens, u.completion_tokens, u.total_tokens)),
          "usage fields are not integers: %s" % short(u.model_dump_json()))
    check(u.total_tokens == u.prompt_tokens + u.completion_tokens, "total_tokens != prompt + completion")


def expect_agent(t, needle, model):
    req = t.mock_request_for(needle)
    agent = "beta" if req["model"] == "mock-echo-beta" else "main" if req["model"] == "mock-echo" else req["model"]
    check(req["model"] == model, "the run used agent %s (LLM model %s)" % (agent, req["model"]))


def case_agent_by_model(t):
    n = nonce()
    text = "route by model %s" % n
    expect_echo(t.reply_of(t.chat(text, model=BETA)), text)
    expect_agent(t, n, "mock-echo-beta")


def case_agent_by_header(t):
    n = nonce()
    text = "route by header %s" % n
    expect_echo(t.reply_of(t.chat(text, model=MAIN, extra_headers={AGENT_HEADER: "beta"})), text)
    expect_agent(t, n, "mock-echo-beta")


def case_session_user(t):
    user = "interop-user-%s" % nonce()
    first = "remember KIWI-%s" % nonce()
    expect_echo(t.reply_of(t.chat(first, user=user)), first)
    n2 = nonce()
    second = "second turn %s" % n2
    expect_echo(t.reply_of(t.chat(second, user=user)), second)
    req = t.mock_request_for(n2)
    check(first in json.dumps(req["messages"]), "the second run's LLM prompt does not contain the first turn")


def case_history(t):
    n = nonce()
    earlier = "earlier question %s" % n
    current = "current question %s" % nonce()
    r = t.chat(None, messages=[{"role": "user", "content": earlier},
                               {"role": "assistant", "content": "echo: " + earlier},
                               {"role": "user", "content": current}])
    expect_echo(t.reply_of(r), current)
    req = t.mock_request_for(current)
    check(earlier in json.dumps(req["messages"]), "the earlier turns did not reach the LLM")


def case_system_prompt(t):
    marker = "SYSMARK-%s" % nonce()
    n = nonce()
    text = "system check %s" % n
    r = t.chat(text, messages=[{"role": "system", "content": "You are a test fixture. %s" % marker},
                               {"role": "user", "content": text}])
    expect_echo(t.reply_of(r), text)
    req = t.mock_request_for(n)
    check(marker in json.dumps(req["messages"]), "the system prompt did not reach the LLM")


def case_content_parts(t):
    n = nonce()
    parts = ["part one %s" % n, "part two %s" % n]
    r = t.chat(None, messages=[{"role": "user", "content": [{"type": "text", "text": p} for p in parts]}])
    reply = t.reply_of(r)
    check(reply.startswith("echo: ") and all(p in reply for p in parts),
          "reply %r lacks a text part" % short(reply))


def case_wrong_token(t):
    bad = openai.OpenAI(base_url=t.args.base_url, api_key="wrong-" + t.args.token,
                        timeout=REQUEST_TIMEOUT_S, max_retries=0)
    try:
        bad.chat.completions.create(model=MAIN, messages=[{"role": "user", "content": "hi"}])
    except openai.AuthenticationError:
        return
    except openai.APIStatusError as exc:
        raise Fail("HTTP %d instead of 401" % exc.status_code)
    raise Fail("request with a wrong token succeeded")


def case_broken_agent(t):
    t0 = time.monotonic()
    n = nonce()
    try:
        r = t.chat("broken agent %s" % n, model=BROKEN)
        ran = [q["model"] for q in t.mock_requests(n)]
        raise Fail("non-stream: HTTP 200 with content %r (LLM model of the run: %s)"
                   % (short(t.reply_of(r)), ", ".join(ran) or "none"))
    except openai.APITimeoutError:
        raise Fail("non-stream: no answer within %d s" % REQUEST_TIMEOUT_S)
    except openai.APIStatusError as exc:
        check(exc.status_code >= 400, "non-stream: HTTP %d" % exc.status_code)
    # streaming: an HTTP error status, or an error event in the stream; never a normal reply
    try:
        _, content = collect_stream(t.chat("broken agent stream %s" % nonce(), model=BROKEN, stream=True))
        raise Fail("stream: ended normally with content %r" % short(content))
    except openai.APITimeoutError:
        raise Fail("stream: no answer within %d s" % REQUEST_TIMEOUT_S)
    except openai.APIError:
        pass
    check(time.monotonic() - t0 < 2 * REQUEST_TIMEOUT_S, "took too long")


def case_abort_stream(t):
    n = nonce()
    text = "MOCK_SLOW abort %s " % n + " ".join("w%d" % i for i in range(16))
    raw = t.client.chat.completions.with_raw_response.create(
        model=MAIN, stream=True, messages=[{"role": "user", "content": text}])
    run_id = raw.headers.get(RUN_ID_HEADER)
    stream = raw.parse()
    got = ""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            got = chunk.choices[0].delta.content
            break
    stream.close()  # the client goes away mid-stream
    check(got, "no content before the abort")
    if t.kind != "clawshim":
        raise NotApplicable("the built-in endpoint returns no run id to check the gateway run with")
    check(run_id, "no %s response header" % RUN_ID_HEADER)
    if t.protocol == 3:
        # protocol v3 has no method to abort an agent run: the run finishes on the gateway;
        # check clawshim still serves after the disconnect.
        text2 = "after abort %s" % nonce()
        expect_echo(t.reply_of(t.chat(text2)), text2)
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gateway_probe
    res = asyncio.run(gateway_probe.agent_wait(t.args.gateway_ws, t.args.token, run_id, 15000))
    payload = res.get("payload") or {}
    check(res.get("ok"), "agent.wait failed: %s" % short(json.dumps(res.get("error"))))
    # traces: openclaw-lab abort_chat. agent.wait on an aborted run answers {status:"error",
    # stopReason:"rpc"}; "timeout" without stopReason means the run is unknown or still running.
    if payload.get("stopReason") != "rpc" and payload.get("status") not in ("aborted", "cancelled"):
        llm = [r["outcome"] for r in t.mock_requests(n)]
        what = "completed" if payload.get("status") == "ok" else "was not aborted"
        raise Fail("the gateway run %s: agent.wait %s, LLM call outcome %s"
                   % (what, short(json.dumps(payload), 120), llm))


def case_parallel_streams(t):
    n = nonce()

    async def one(client, i):
        text = "parallel %d %s" % (i, n)
        stream = await client.chat.completions.create(model=MAIN, stream=True,
                                                      messages=[{"role": "user", "content": text}])
        content = ""
        async for chunk in stream:
            if chunk.choices:
                content += chunk.choices[0].delta.content or ""
        return text, content

    async def all_of():
        client = t.async_client()
        try:
            return await asyncio.wait_for(asyncio.gather(*(one(client, i) for i in range(PARALLEL)),
                                                         return_exceptions=True), CASE_TIMEOUT_S - 20)
        finally:
            await client.close()

    results = asyncio.run(all_of())
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise Fail("%d of %d streams failed, e.g. %s" % (len(errors), PARALLEL, short(repr(errors[0]))))
    wrong = [(text, got) for text, got in results if got != "echo: " + text]
    if wrong:
        raise Fail("%d of %d replies do not match their request, e.g. %r for %r"
                   % (len(wrong), PARALLEL, short(wrong[0][1], 80), wrong[0][0]))


def case_passthrough(t):
    """The Control UI reaches the gateway through clawshim: its page and its WebSocket on `/`
    (challenge, connect, agents.list), from a client on the gateway's host that sends a
    spoofed X-Forwarded-For (openclaw 2026.9 answers 403 to forwarded headers from an
    untrusted peer: clawshim must not pass client input on). The gateway's other endpoints do
    not: `POST /tools/invoke` with the gateway token is clawshim's 404."""
    if t.kind != "clawshim":
        raise NotApplicable("the built-in endpoint is the gateway itself")
    base = t.args.base_url.rsplit("/v1", 1)[0]
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
    req = urllib.request.Request(base + "/", headers=spoof)
    with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
        check(resp.status == 200, "GET / answered %d" % resp.status)
        ctype = resp.headers.get("content-type", "")
        check(ctype.startswith("text/html"), "GET / is not the Control UI page (%s)" % ctype)

    async def ws_session():
        import websockets
        url = "ws" + base[len("http"):] + "/"
        async with websockets.connect(url, additional_headers=spoof, open_timeout=10,
                                      max_size=64 * 1024 * 1024) as ws:
            async def frame():
                return json.loads(await asyncio.wait_for(ws.recv(), 15))
            first = await frame()
            check(first.get("event") == "connect.challenge", "no connect.challenge through clawshim")
            for method, params in (
                ("connect", {"minProtocol": 3, "maxProtocol": 4,
                             "client": {"id": "gateway-client", "version": "0.0.0-interop",
                                        "platform": "linux", "mode": "backend"},
                             "role": "operator", "scopes": ["operator.admin"],
                             "auth": {"token": t.args.token}}),
                ("agents.list", {}),
            ):
                rid = str(uuid.uuid4())
                await ws.send(json.dumps({"type": "req", "id": rid, "method": method, "params": params}))
                while True:
                    res = await frame()
                    if res.get("type") == "res" and res.get("id") == rid:
                        break
                check(res.get("ok"), "%s through clawshim failed: %s" % (method, json.dumps(res.get("error"))))
            ids = [a.get("id") for a in res["payload"].get("agents", [])]
            check("main" in ids, "agents.list through clawshim lacks main: %r" % ids)

    asyncio.run(ws_session())

    # The gateway's tool endpoint is not the Control UI's: clawshim refuses it itself (404
    # JSON), even with the gateway's own token.
    req = urllib.request.Request(
        base + "/tools/invoke", method="POST",
        data=json.dumps({"tool": "sessions_list", "args": {}}).encode(),
        headers={"Authorization": "Bearer " + t.args.token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
            raise Fail("POST /tools/invoke through clawshim answered %d" % resp.status)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        check(e.code == 404, "POST /tools/invoke answered %d: %s" % (e.code, short(body)))
        try:
            error = json.loads(body).get("error", {})
        except ValueError:
            error = {}
        check(error.get("code") == "unknown_url",
              "POST /tools/invoke is not clawshim's 404: %s" % short(body))


def case_key_session_scope(t):
    """An API key of clawshim's own cannot name the owner's main session: 403 before any run
    (the LLM never sees the message), while the same key works in its own namespace."""
    if t.kind != "clawshim":
        raise NotApplicable("the built-in endpoint has no API keys")
    if not t.args.api_key:
        raise NotApplicable("no --api-key given")
    keyed = openai.OpenAI(base_url=t.args.base_url, api_key=t.args.api_key,
                          timeout=REQUEST_TIMEOUT_S, max_retries=0)
    own = "key in its namespace %s" % nonce()
    expect_echo(t.reply_of(keyed.chat.completions.create(
        model=MAIN, messages=[{"role": "user", "content": own}])), own)
    n = nonce()
    for session in ("agent:main:main", "main", "global"):
        try:
            keyed.chat.completions.create(
                model=MAIN, messages=[{"role": "user", "content": "owner's chat %s" % n}],
                extra_headers={"x-openclaw-session-key": session})
        except openai.PermissionDeniedError:
            continue
        except openai.APIStatusError as exc:
            raise Fail("HTTP %d instead of 403 for session %s" % (exc.status_code, session))
        raise Fail("the key reached session %s" % session)
    check(not t.mock_requests(n), "a refused request reached the LLM")


def case_frame_limit(t):
    """A 600 KB message (200k CJK characters) beside a running stream. clawdbot 2026.1.24
    announces policy.maxPayload 524288 and closes its socket with 1009 on a bigger frame, which
    would fail every run in flight: clawshim answers 413 request_too_large naming that limit,
    sends nothing, and the stream completes. openclaw 2026.9.6 announces 25 MiB: the same
    request runs."""
    if t.kind != "clawshim":
        raise NotApplicable("the frame limit is on clawshim's socket to the gateway")
    n = nonce()
    big = "\u6f22" * 200000 + " " + n
    small = "beside the big one %s" % n

    async def both():
        client = t.async_client()
        try:
            stream = await client.chat.completions.create(
                model=MAIN, stream=True, messages=[{"role": "user", "content": small}])
            content = ""
            first = True
            big_result = None
            async for chunk in stream:
                if chunk.choices:
                    content += chunk.choices[0].delta.content or ""
                if first:
                    first = False
                    try:
                        big_result = await client.chat.completions.create(
                            model=MAIN, messages=[{"role": "user", "content": big}])
                    except openai.APIStatusError as exc:
                        big_result = exc
            return content, big_result
        finally:
            await client.close()

    content, big_result = asyncio.run(asyncio.wait_for(both(), CASE_TIMEOUT_S - 20))
    expect_echo(content, small)
    if t.protocol == 3:
        check(isinstance(big_result, openai.APIStatusError),
              "the 600 KB request was not refused: %s" % short(repr(big_result)))
        body = big_result.body if isinstance(big_result.body, dict) else {}
        err = body.get("error", body) if isinstance(body, dict) else {}
        check(big_result.status_code == 413 and err.get("code") == "request_too_large",
              "expected 413 request_too_large, got HTTP %d %s"
              % (big_result.status_code, short(json.dumps(body))))
        check("524288" in (err.get("message") or ""),
              "the message does not name the gateway's limit: %s" % short(err.get("message")))
        check(not t.mock_requests(big[-40:]), "the big request reached the LLM")
    else:
        if isinstance(big_result, openai.APIStatusError):
            raise Fail("the 600 KB request failed on v4: HTTP %d %s"
                       % (big_result.status_code, short(str(big_result.message))))
        expect_echo(t.reply_of(big_result), big)


def small_png(width=8, height=8):
    """A real PNG (solid red), built here so the suite needs no image file."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def png_data_url():
    return "data:image/png;base64," + base64.b64encode(small_png()).decode()


def case_image_png(t):
    """A chat image_url part with a PNG data URL: the mock LLM must see an image."""
    n = nonce()
    r = t.chat(None, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what colour is this %s" % n},
        {"type": "image_url", "image_url": {"url": png_data_url()}}]}])
    t.reply_of(r)
    seen = t.mock_request_for(n)
    check(seen.get("images", 0) >= 1, "the mock LLM got no image (%d image parts)" % seen.get("images", 0))


def response_text(resp):
    check(resp.status == "completed", "status %r" % resp.status)
    return resp.output_text


def case_responses_create(t):
    n = nonce()
    text = "respond to %s" % n
    resp = t.client.responses.create(model=MAIN, input=text, instructions="Answer briefly.")
    check(resp.id.startswith("resp_"), "id %r" % resp.id)
    expect_echo(response_text(resp), text)
    check(resp.usage is not None and resp.usage.total_tokens >= resp.usage.output_tokens, "no usage")
    # previous_response_id continues the same conversation (the mock sees the earlier turn).
    n2 = nonce()
    follow = t.client.responses.create(model=MAIN, input="and then %s" % n2, previous_response_id=resp.id)
    expect_echo(response_text(follow), "and then %s" % n2)


def case_responses_stream(t):
    n = nonce()
    text = "stream a response %s" % n
    deltas, names = [], []
    with t.client.responses.stream(model=MAIN, input=text) as stream:
        for event in stream:
            names.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    expect_echo("".join(deltas), text)
    expect_echo(response_text(final), text)
    check(names[-1] == "response.completed", "last event %r" % names[-1:])


def case_responses_image(t):
    """Responses input_image with a PNG data URL: the mock LLM must see an image."""
    n = nonce()
    resp = t.client.responses.create(model=MAIN, input=[{"role": "user", "content": [
        {"type": "input_text", "text": "describe %s" % n},
        {"type": "input_image", "image_url": png_data_url()}]}])
    response_text(resp)
    seen = t.mock_request_for(n)
    check(seen.get("images", 0) >= 1, "the mock LLM got no image (%d image parts)" % seen.get("images", 0))


def case_agents_sdk(t):
    """The OpenAI Agents SDK with its default model API (Responses), streamed and not."""
    import agents
    agents.set_tracing_disabled(True)
    # The SDK's default client and default model API: no model class named here.
    agents.set_default_openai_client(t.async_client(), use_for_tracing=False)
    # "openclaw:main", not "openclaw/main": the SDK reads "openclaw/" as one of its own
    # provider prefixes (docs/clients.md).
    agent = agents.Agent(name="interop", instructions="Answer briefly.", model="openclaw:main")
    n, n2 = nonce(), nonce()

    async def both():
        # One event loop for both runs: the client's connections belong to it.
        result = await agents.Runner.run(agent, "hello agents %s" % n)
        run = agents.Runner.run_streamed(agent, "stream agents %s" % n2)
        async for _ in run.stream_events():
            pass
        return result.final_output, run.final_output

    plain, streamed = asyncio.run(both())
    expect_echo(plain, "hello agents %s" % n)
    expect_echo(streamed, "stream agents %s" % n2)

def case_idempotency_key(t):
    """The same request sent twice with one Idempotency-Key (as the SDK sends it with
    extra_headers): one gateway run (the mock LLM saw one call), the same reply twice."""
    if t.kind == "builtin":
        raise NotApplicable("the built-in endpoint has no Idempotency-Key")
    text = "idempotent %s" % nonce()
    headers = {"Idempotency-Key": "interop-%s" % nonce()}
    first = t.reply_of(t.chat(text, extra_headers=headers))
    again = t.reply_of(t.chat(text, extra_headers=headers))
    expect_echo(first, text)
    check(again == first, "the retry got %r, the first %r" % (short(again), short(first)))
    calls = t.mock_requests(text)
    check(len(calls) == 1, "the mock LLM saw %d calls for one Idempotency-Key" % len(calls))


# ------------------------------------------------------------------ client tools (issue 20)
#
# The mock LLM calls a tool when the current turn says MOCK_TOOL:<name> {json args} (it picks
# client_<name> when the request offers that: clawshim's rename of a client tool whose name
# openclaw's own tools use), and answers a caller's result "Tool:<id>: <output>" with
# "echo: tool result <output>". openclaw runs client tools only through its HTTP endpoint
# with tools.toolSearch off (v4/openclaw.template.json); clawdbot 2026.1.24 has none, so on v3
# the same requests must still get an answer.

WEATHER_CHAT = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
WEATHER_RESP = {"type": "function", "name": "get_weather", "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TOOLS_HEADER = "x-clawshim-tools"


def tool_prompt(name, n):
    return 'MOCK_TOOL:%s {"city":"Paris-%s"}' % (name, n)


def v3_gets_an_answer(t, text, **kw):
    """On clawdbot the tools are ignored: a plain answer, and clawshim says so."""
    raw = t.client.chat.completions.with_raw_response.create(
        model=MAIN, messages=[{"role": "user", "content": text}], **kw)
    r = raw.parse()
    check(r.choices[0].finish_reason == "stop", "finish_reason %r" % r.choices[0].finish_reason)
    check(r.choices[0].message.content, "no answer")
    if t.kind == "clawshim":
        header = raw.headers.get(TOOLS_HEADER)
        check(header == "ignored; reason=unsupported-gateway", "%s: %r" % (TOOLS_HEADER, header))


def case_tools_chat(t):
    """A chat round trip: tool call, the caller's role:tool result, the answer."""
    n = nonce()
    text = tool_prompt("get_weather", n)
    if t.protocol == 3:
        return v3_gets_an_answer(t, text, tools=[WEATHER_CHAT])
    r = t.chat(text, tools=[WEATHER_CHAT])
    choice = r.choices[0]
    check(choice.finish_reason == "tool_calls", "finish_reason %r" % choice.finish_reason)
    calls = choice.message.tool_calls or []
    check(len(calls) == 1 and calls[0].function.name == "get_weather", "tool_calls %s" % short(calls))
    check(json.loads(calls[0].function.arguments) == {"city": "Paris-%s" % n},
          "arguments %r" % calls[0].function.arguments)
    messages = [{"role": "user", "content": text},
                {"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump()]},
                {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny %s" % n}]
    answer = t.chat(None, messages=messages, tools=[WEATHER_CHAT])
    check(answer.choices[0].finish_reason == "stop", "finish_reason %r" % answer.choices[0].finish_reason)
    expect_echo(t.reply_of(answer), "tool result sunny %s" % n)


def case_tools_chat_stream(t):
    """The same streamed: tool-call deltas (id and name, then arguments), finish_reason tool_calls."""
    n = nonce()
    text = tool_prompt("get_weather", n)
    if t.protocol == 3:
        return v3_gets_an_answer(t, text, tools=[WEATHER_CHAT])
    chunks = list(t.chat(text, tools=[WEATHER_CHAT], stream=True))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    check(deltas and deltas[0].id and deltas[0].function.name == "get_weather", "first call delta %s" % short(deltas[:1]))
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    check(json.loads(arguments) == {"city": "Paris-%s" % n}, "arguments %r" % arguments)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    check(finishes == ["tool_calls"], "finish reasons %r" % finishes)


def responses_call(resp):
    calls = [o for o in resp.output if o.type == "function_call"]
    check(len(calls) == 1, "function_call items: %s" % short([o.type for o in resp.output]))
    return calls[0]


def case_tools_responses(t):
    """Responses: a function_call item, then function_call_output with previous_response_id,
    and again with the transcript instead."""
    n = nonce()
    text = tool_prompt("get_weather", n)
    if t.protocol == 3:
        resp = t.client.responses.create(model=MAIN, input=text, tools=[WEATHER_RESP])
        check(response_text(resp), "no answer")
        return
    resp = t.client.responses.create(model=MAIN, input=text, tools=[WEATHER_RESP])
    call = responses_call(resp)
    check(call.name == "get_weather", "name %r" % call.name)
    check(json.loads(call.arguments) == {"city": "Paris-%s" % n}, "arguments %r" % call.arguments)
    follow = t.client.responses.create(model=MAIN, previous_response_id=resp.id, tools=[WEATHER_RESP], input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny %s" % n}])
    expect_echo(response_text(follow), "tool result sunny %s" % n)
    again = t.client.responses.create(model=MAIN, tools=[WEATHER_RESP], input=[
        {"type": "message", "role": "user", "content": text},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "rainy %s" % n}])
    expect_echo(response_text(again), "tool result rainy %s" % n)


def case_tools_codex_list(t):
    """A Codex CLI-shaped tool list (function shell beside web_search, a custom apply_patch and
    an MCP namespace): the shell function is called."""
    n = nonce()
    shell = {"type": "function", "name": "shell", "description": "Runs a command",
             "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                            "required": ["command"]}, "strict": False}
    tools = [shell, {"type": "web_search"}, {"type": "custom", "name": "apply_patch", "description": "patch",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
             {"type": "namespace", "name": "mcp__files", "description": "files", "tools": []}]
    text = 'MOCK_TOOL:shell {"command":["echo","%s"]}' % n
    resp = t.client.responses.create(model=MAIN, input=text, tools=tools)
    if t.protocol == 3:
        check(response_text(resp), "no answer")
        return
    call = responses_call(resp)
    check(call.name == "shell" and json.loads(call.arguments) == {"command": ["echo", n]},
          "call %s" % short(call))


def case_tools_ask_user(t):
    """A tool list with ask_user (Open WebUI sends it; openclaw's own agent tools use the name):
    the call comes back as ask_user."""
    n = nonce()
    ask = {"type": "function", "function": {"name": "ask_user", "description": "Ask the user",
           "parameters": {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}}}
    text = 'MOCK_TOOL:ask_user {"question":"why-%s"}' % n
    if t.protocol == 3:
        return v3_gets_an_answer(t, text, tools=[WEATHER_CHAT, ask])
    r = t.chat(text, tools=[WEATHER_CHAT, ask])
    calls = r.choices[0].message.tool_calls or []
    check(len(calls) == 1 and calls[0].function.name == "ask_user", "tool_calls %s" % short(calls))
    check(json.loads(calls[0].function.arguments) == {"question": "why-%s" % n}, "arguments %r" % calls[0].function.arguments)


def case_tools_choice_required(t):
    """tool_choice "required": a call on v4; on v3, where tools cannot run, clawshim's 400
    naming tool_choice (never a plain-text answer)."""
    n = nonce()
    if t.protocol == 4:
        r = t.chat(tool_prompt("get_weather", n), tools=[WEATHER_CHAT], tool_choice="required")
        check(r.choices[0].finish_reason == "tool_calls", "finish_reason %r" % r.choices[0].finish_reason)
        return
    if t.kind == "builtin":
        raise NotApplicable("clawdbot 2026.1.24's endpoint ignores tools and tool_choice")
    try:
        t.chat("hello %s" % n, tools=[WEATHER_CHAT], tool_choice="required")
    except openai.BadRequestError as exc:
        check(getattr(exc, "param", None) == "tool_choice",
              "the 400 does not name tool_choice: %s" % short(str(exc)))
        return
    raise Fail("tool_choice=required on a gateway without client tools was answered")


def case_agents_sdk_tools(t):
    """The OpenAI Agents SDK runs a local @function_tool through the endpoint (Responses)."""
    import agents
    agents.set_tracing_disabled(True)
    agents.set_default_openai_client(t.async_client(), use_for_tracing=False)
    n = nonce()
    seen = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        seen.append(city)
        return "sunny in %s" % city

    agent = agents.Agent(name="interop", instructions="Answer briefly.", model="openclaw:main",
                         tools=[get_weather])
    result = asyncio.run(agents.Runner.run(agent, tool_prompt("get_weather", n), max_turns=4))
    if t.protocol == 3:
        check(result.final_output and not seen, "final output %r, tool calls %r" % (result.final_output, seen))
        return
    check(seen == ["Paris-%s" % n], "the local tool ran with %r" % seen)
    expect_echo(result.final_output, "tool result sunny in Paris-%s" % n)


def case_tool_steps(t):
    """The agent runs one of the gateway's tools (the mock LLM's MOCK_TOOL:agents_list): its step arrives as reasoning
    before the answer in a chat stream, in a whole answer's `reasoning_content`, and as a
    `reasoning` item before the message in the Responses API; the answer stays the answer."""
    if t.protocol == 3:
        raise NotApplicable("clawdbot 2026.1.24 sends tool events only for sessions whose "
                            "verbose level is on")
    text = "look around %s MOCK_TOOL:agents_list" % nonce()
    reasoning, content, order = "", "", []
    for c in t.chat(text, stream=True):
        if not c.choices:
            continue
        d = c.choices[0].delta
        r = (d.model_extra or {}).get("reasoning_content")
        if r:
            reasoning += r
            order.append("r")
        if d.content:
            content += d.content
            order.append("c")
    check(content.startswith("echo: tool agents_list returned"), "answer %r" % short(content))
    check("Running: " in reasoning, "no step in reasoning_content: %r" % short(reasoning))
    check("c" not in order[:order.index("r")] if "r" in order else False,
          "reasoning came after the answer started: %s" % "".join(order))
    whole = t.chat("again %s MOCK_TOOL:agents_list" % nonce())
    extra = whole.choices[0].message.model_extra or {}
    check("Running: " in (extra.get("reasoning_content") or ""),
          "no reasoning_content in the whole answer: %r" % short(extra))
    r = t.client.responses.create(model=MAIN, input="responses %s MOCK_TOOL:agents_list" % nonce())
    kinds = [o.type for o in r.output]
    check(kinds == ["reasoning", "message"], "output items %r" % kinds)
    check("Running: " in r.output[0].summary[0].text, "summary %r" % short(r.output[0].summary[0].text))
    check(r.output_text.startswith("echo: tool agents_list returned"), "output_text %r" % short(r.output_text))


CASES = [
    ("models", case_models),
    ("non_stream", case_non_stream),
    ("stream", case_stream),
    ("stream_usage", case_stream_usage),
    ("agent_by_model", case_agent_by_model),
    ("agent_by_header", case_agent_by_header),
    ("session_user", case_session_user),
    ("history", case_history),
    ("system_prompt", case_system_prompt),
    ("content_parts", case_content_parts),
    ("wrong_token", case_wrong_token),
    ("broken_agent", case_broken_agent),
    ("abort_stream", case_abort_stream),
    ("parallel_streams", case_parallel_streams),
    ("passthrough", case_passthrough),
    ("key_session_scope", case_key_session_scope),
    ("frame_limit", case_frame_limit),
    ("image_png", case_image_png),
    ("responses_create", case_responses_create),
    ("responses_stream", case_responses_stream),
    ("responses_image", case_responses_image),
    ("agents_sdk", case_agents_sdk),
    ("idempotency_key", case_idempotency_key),
    ("tool_steps", case_tool_steps),
    ("tools_chat", case_tools_chat),
    ("tools_chat_stream", case_tools_chat_stream),
    ("tools_responses", case_tools_responses),
    ("tools_codex_list", case_tools_codex_list),
    ("tools_ask_user", case_tools_ask_user),
    ("tools_choice_required", case_tools_choice_required),
    ("agents_sdk_tools", case_agents_sdk_tools),
]


def run_case(fn, t):
    """Run one case in a worker thread, bounded by CASE_TIMEOUT_S."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    fut = pool.submit(fn, t)
    t0 = time.monotonic()
    try:
        fut.result(timeout=CASE_TIMEOUT_S)
        out = {"status": "pass", "reason": ""}
    except concurrent.futures.TimeoutError:
        out = {"status": "fail", "reason": "case did not finish within %d s" % CASE_TIMEOUT_S}
    except NotApplicable as exc:
        out = {"status": "n/a", "reason": str(exc)}
    except Fail as exc:
        out = {"status": "fail", "reason": str(exc)}
    except openai.APIStatusError as exc:
        out = {"status": "fail", "reason": "%s: HTTP %d %s" % (type(exc).__name__, exc.status_code,
                                                              short(str(exc.message), 200))}
    except Exception as exc:  # any other SDK or transport error is a failure of the case
        out = {"status": "fail", "reason": "%s: %s" % (type(exc).__name__, short(str(exc), 200))}
    pool.shutdown(wait=False)
    out["seconds"] = round(time.monotonic() - t0, 2)
    return out


def case_signed_handshake(t):
    """clawshim started with CLAWSHIM_DEVICE_IDENTITY serves a run, with a consistent identity
    file; on v3 the gateway lists that device as paired (clawdbot auto-approves loopback devices).
    openclaw records no device for a token-authenticated loopback backend connection
    (device.pair.list stays empty), so on v4 the gateway's acceptance of the connect is the check."""
    case_non_stream(t)
    check(os.path.exists(t.args.identity), "no device identity file at %s" % t.args.identity)
    with open(t.args.identity) as fh:
        ident = json.load(fh)
    device_id, public_key = ident.get("deviceId"), ident.get("publicKey")
    check(device_id, "the identity file has no deviceId")
    if public_key:
        raw = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
        # traces: openclaw-lab device_identity (id = sha256 hex of the raw 32-byte key)
        check(hashlib.sha256(raw).hexdigest() == device_id, "deviceId is not sha256(publicKey)")
    if t.protocol == 3:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import gateway_probe
        res = asyncio.run(gateway_probe.call(t.args.gateway_ws, t.args.token, "device.pair.list", {}))
        paired = [d.get("deviceId") for d in (res.get("payload") or {}).get("paired", [])]
        check(device_id in paired, "the gateway does not list device %s as paired" % device_id[:12])


def signed_check(args):
    """signed_handshake, run by run.sh against a clawshim started with a device identity."""
    res = run_case(case_signed_handshake, Target(args))
    return {"client": "-", "target": args.target, "cases": {"signed_handshake": res}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--kind", choices=["clawshim", "builtin"], default="clawshim")
    ap.add_argument("--protocol", type=int, choices=[3, 4], default=4)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--api-key", default="", help="an API key of clawshim's own ([[keys]])")
    ap.add_argument("--mock-url", required=True)
    ap.add_argument("--gateway-ws", default="")
    ap.add_argument("--probe", default="")
    ap.add_argument("--unavailable", default="", help="the target is not running: fail every case with this")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--signed-check", action="store_true")
    ap.add_argument("--identity", default="")
    args = ap.parse_args()

    if args.signed_check:
        doc = signed_check(args)
    else:
        only = set(filter(None, args.only.split(",")))
        t = Target(args)
        doc = {"client": "python", "target": args.target, "sdk": "openai %s" % openai.__version__, "cases": {}}
        for name, fn in CASES:
            if only and name not in only:
                continue
            if args.unavailable:
                res = {"status": "fail", "reason": args.unavailable, "seconds": 0}
            else:
                res = run_case(fn, t)
            doc["cases"][name] = res
            print("%-18s %-5s %5.1fs %s" % (name, res["status"], res["seconds"], res["reason"]), flush=True)
    with open(args.out, "w") as fh:
        json.dump(doc, fh, indent=1)
    sys.stdout.flush()
    os._exit(0)  # do not wait for a worker thread stuck past its timeout


if __name__ == "__main__":
    main()
