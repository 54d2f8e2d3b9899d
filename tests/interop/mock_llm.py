#!/usr/bin/env python3
"""Deterministic mock of an OpenAI-compatible LLM for the clawshim interop suite (stdlib only).

The real gateways (clawdbot 2026.1.24, openclaw 2026.9.6) call this server as their model
provider, so agent runs work on loopback with no internet and give predictable replies.

Endpoints (127.0.0.1 by default):
  GET  /v1/models                -> model list (mock-echo, mock-echo-beta)
  POST /v1/chat/completions      -> non-streaming JSON or SSE ("stream": true)
  GET  /__mock__/health          -> {"ok": true, "requests": N}
  GET  /__mock__/requests?contains=S
                                 -> the chat requests whose messages contain S (JSON-encoded
                                    substring match), newest last, with their outcome and
                                    `images` (how many image parts the messages carried)
  POST /__mock__/config          -> {"fail_status": 500, "fail_count": N}: next N calls fail
  POST /__mock__/reset           -> clear the injected failure

Reply text: "echo: <current user turn>". The current turn is the last user message with:
  * openclaw's injected context removed (a trailing user message holding
    <<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>> ... <<<END_...>>> and a "Runtime: agent=..." suffix
    on the user turn; see the openclaw 2026.9.6 notes in README.md);
  * history prompts reduced to the current turn: when the text contains a line that is only a
    "[...]" marker (clawdbot: "[Current message - respond to this]"), the text after the last
    such line, without a leading "User: " label;
  * leading "[...]" envelope prefixes (timestamps, channel names) stripped.
Several text parts of one message are joined with a newline.

Streaming: a role chunk, the reply split on words into up to 4 content chunks with
--chunk-delay-ms between them (8 chunks for MOCK_SLOW), a finish chunk, a usage chunk (choices: []) when
stream_options.include_usage, then "data: [DONE]". A stream whose reader goes away is recorded
with outcome "client_gone" (how the suite sees that a gateway aborted its LLM call).

Fault injection from the current user turn: MOCK_HTTP_<code> (400-599) -> that status with an
OpenAI-style error body; MOCK_SLOW -> 10x chunk delay.

Tool calls (for client tools):
  * MOCK_TOOL:<name> in the current user turn -> the reply is one call of <name> (of client_<name>
    when the request offers that: clawshim's rename of a client tool that clashes with one of
    openclaw's own); a JSON object
    after the name on the same line (MOCK_TOOL:get_weather {"city":"Paris"}) is its arguments,
    else "{}". With the tools offered: the gateway checks the arguments against the tool's
    schema, so a tool with required parameters needs them.
  * the last message is a tool result (role "tool": the gateway ran one of its own tools) ->
    "echo: tool <name> returned <N> chars";
  * the current turn is a caller's tool result folded into the prompt by the gateway
    ("Tool:<call id>: <output>") -> "echo: tool result <output>" (its first 80 characters).
  Streamed calls come as the OpenAI API sends them: the id and name, then the arguments.

Every request is also appended as one JSON line to --log.
"""

import argparse
import collections
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_IDS = ["mock-echo", "mock-echo-beta"]
MAX_KEPT_REQUESTS = 5000

_lock = threading.Lock()
_state = {"fail_status": None, "fail_count": 0, "requests": 0}
_requests = collections.deque(maxlen=MAX_KEPT_REQUESTS)
ARGS = None


def log_line(entry):
    if not ARGS.log:
        return
    line = json.dumps(entry, ensure_ascii=False)
    with _lock:
        with open(ARGS.log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def content_to_text(content):
    """Text of a message content: a string, or the text parts of an array joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text"):
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


INTERNAL_CONTEXT_RE = re.compile(
    r"<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>.*?<<<END_OPENCLAW_INTERNAL_CONTEXT>>>", re.S)
RUNTIME_SUFFIX_RE = re.compile(r"\n+Runtime: agent=[^\n]*\s*$")
MARKER_LINE_RE = re.compile(r"^\s*\[[^\]\n]{1,200}\]\s*$", re.M)
ENVELOPE_RE = re.compile(r"^\s*\[[^\]\n]{1,200}\]\s*")
ROLE_LABEL_RE = re.compile(r"^(User|user)\s*:\s*")
MOCK_TOOL_RE = re.compile(r"MOCK_TOOL:([A-Za-z0-9_\-]+)(?:[ \t]+(\{[^\n]*\}))?")
TOOL_RESULT_RE = re.compile(r"^Tool:\S+?: (.*)", re.S)


def tool_reply(messages, user_text, offered=()):
    """(text, tool_call) for the tool rules in the module doc; (None, None) when none applies."""
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    # openclaw appends its internal-context user message after a tool result: look past it.
    for msg in reversed(messages or []):
        if not isinstance(msg, dict):
            continue
        if msg.get("role") == "user" and not strip_openclaw_context(content_to_text(msg.get("content"))):
            continue
        last = msg
        break
    if last.get("role") == "tool":
        name = "?"
        for m in messages:
            for tc in (m.get("tool_calls") or []) if isinstance(m, dict) else []:
                if tc.get("id") == last.get("tool_call_id"):
                    name = (tc.get("function") or {}).get("name", "?")
        return "echo: tool %s returned %d chars" % (name, len(content_to_text(last.get("content")))), None
    result = TOOL_RESULT_RE.match(user_text)
    if result:
        return "echo: tool result " + result.group(1).strip()[:80], None
    m = MOCK_TOOL_RE.search(user_text)
    if m:
        name = m.group(1)
        # A caller's tool that clawshim renamed because openclaw's own tools use its name.
        if "client_" + name in offered:
            name = "client_" + name
        call = {"id": "call_mock_" + uuid.uuid4().hex[:8], "type": "function",
                "function": {"name": name, "arguments": m.group(2) or "{}"}}
        return "", call
    return None, None


def strip_openclaw_context(text):
    """Drop openclaw's injected internal-context block and "Runtime: ..." suffix."""
    text = INTERNAL_CONTEXT_RE.sub("", text)
    return RUNTIME_SUFFIX_RE.sub("", text).strip()


def current_turn(text):
    """Reduce a (possibly history-flattened, envelope-prefixed) user text to the current turn."""
    text = strip_openclaw_context(text)
    markers = list(MARKER_LINE_RE.finditer(text))
    if markers:
        after = text[markers[-1].end():].strip()
        if after:
            text = ROLE_LABEL_RE.sub("", after, count=1)
    prev = None
    while prev != text:
        prev = text
        text = ENVELOPE_RE.sub("", text, count=1)
    return text.strip()


def last_user_text(messages):
    for msg in reversed(messages or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            text = current_turn(content_to_text(msg.get("content")))
            if text:
                return text
    return ""


def count_images(messages):
    """Image parts in the request (`image_url` as the gateways send them to an OpenAI-style
    provider, or `input_image`/`image`), so a case can tell that an image reached the LLM."""
    count = 0
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):
            count += sum(1 for part in content
                         if isinstance(part, dict) and part.get("type") in ("image_url", "input_image", "image"))
    return count


def split_chunks(text, n=4):
    if not text:
        return [""]
    words = re.findall(r"\S+\s*|\s+", text)
    if len(words) <= 1:
        size = max(1, (len(text) + n - 1) // n)
        return [text[i:i + size] for i in range(0, len(text), size)]
    per = max(1, (len(words) + n - 1) // n)
    return ["".join(words[i:i + per]) for i in range(0, len(words), per)]


def decide_fault(user_text):
    """Return (status, message) for an injected failure, or None."""
    m = re.search(r"MOCK_HTTP_([45][0-9][0-9])", user_text)
    if m:
        code = int(m.group(1))
        return code, "mock: injected HTTP %d (MOCK_HTTP_%d)" % (code, code)
    with _lock:
        st, cnt = _state["fail_status"], _state["fail_count"]
        if st and cnt != 0:
            if cnt > 0:
                _state["fail_count"] = cnt - 1
            return int(st), "mock: injected failure via /__mock__/config"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockLLM/1.0"

    def log_message(self, fmt, *args):
        if ARGS.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def _send_json(self, status, obj):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _sse(self, payload):
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(("data: %s\n\n" % data).encode("utf-8"))
        self.wfile.flush()

    def _error(self, status, message):
        etype = ("server_error" if status >= 500 else "rate_limit_error" if status == 429
                 else "authentication_error" if status == 401 else "invalid_request_error")
        self._send_json(status, {"error": {"message": message, "type": etype, "param": None, "code": None}})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/v1/models", "/models"):
            now = int(time.time())
            return self._send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": now, "owned_by": "mock"} for m in MODEL_IDS]})
        if url.path == "/__mock__/health":
            return self._send_json(200, {"ok": True, "requests": _state["requests"]})
        if url.path == "/__mock__/requests":
            needle = (urllib.parse.parse_qs(url.query).get("contains") or [""])[0]
            with _lock:
                found = [r for r in _requests if needle in r["haystack"]]
                out = [{k: v for k, v in r.items() if k != "haystack"} for r in found]
            return self._send_json(200, {"requests": out})
        return self._error(404, "not found: %s" % url.path)

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            body = None
        with _lock:
            _state["requests"] += 1
        log_line({"ts": time.time(), "method": "POST", "path": self.path, "body": body})
        if not isinstance(body, dict):
            return self._error(400, "invalid JSON body")
        if path == "/__mock__/config":
            with _lock:
                if "fail_status" in body:
                    _state["fail_status"] = body["fail_status"]
                if "fail_count" in body:
                    _state["fail_count"] = int(body["fail_count"])
                snap = dict(_state)
            return self._send_json(200, snap)
        if path == "/__mock__/reset":
            with _lock:
                _state["fail_status"], _state["fail_count"] = None, 0
                snap = dict(_state)
            return self._send_json(200, snap)
        if path in ("/v1/chat/completions", "/chat/completions"):
            return self._chat(body)
        return self._error(404, "not found: %s" % path)

    def _chat(self, body):
        model = body.get("model") or MODEL_IDS[0]
        messages = body.get("messages") or []
        user_text = last_user_text(messages)
        offered = [((t or {}).get("function") or {}).get("name") for t in body.get("tools") or []]
        record = {"id": uuid.uuid4().hex, "ts": time.time(), "model": model, "offered": offered,
                  "stream": bool(body.get("stream")), "user_text": user_text,
                  "messages": messages, "outcome": "in_progress", "images": count_images(messages),
                  "haystack": json.dumps(messages, ensure_ascii=False)}
        with _lock:
            _requests.append(record)
        fault = decide_fault(user_text)
        if fault:
            record["outcome"] = "error_%d" % fault[0]
            return self._error(*fault)
        reply, tool_call = tool_reply(messages, user_text, offered)
        if reply is None:
            reply = "echo: " + user_text
        record["tool_call"] = (tool_call or {}).get("function", {}).get("name")
        prompt_chars = sum(len(content_to_text(m.get("content"))) for m in messages if isinstance(m, dict))
        usage = {"prompt_tokens": max(1, prompt_chars // 4), "completion_tokens": max(1, len(reply) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        cid = "chatcmpl-mock-" + uuid.uuid4().hex[:12]
        created = int(time.time())
        if not body.get("stream"):
            record["outcome"] = "completed"
            return self._send_json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": dict({"role": "assistant", "content": reply or None},
                                                         **({"tool_calls": [tool_call]} if tool_call else {})),
                             "finish_reason": "tool_calls" if tool_call else "stop", "logprobs": None}],
                "usage": usage})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        slow = "MOCK_SLOW" in user_text
        delay = ARGS.chunk_delay_ms / 1000.0 * (10 if slow else 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        try:
            self._sse(dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                           "finish_reason": None}]))
            for piece in (split_chunks(reply, 8 if slow else 4) if reply else []):
                time.sleep(delay)
                self._sse(dict(base, choices=[{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
            if tool_call:
                fn = tool_call["function"]
                self._sse(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                    {"index": 0, "id": tool_call["id"], "type": "function",
                     "function": {"name": fn["name"], "arguments": ""}}]}, "finish_reason": None}]))
                self._sse(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                    {"index": 0, "function": {"arguments": fn["arguments"]}}]}, "finish_reason": None}]))
            self._sse(dict(base, choices=[{"index": 0, "delta": {},
                                           "finish_reason": "tool_calls" if tool_call else "stop"}]))
            if include_usage:
                self._sse(dict(base, choices=[], usage=usage))
            self._sse("[DONE]")
            record["outcome"] = "completed"
        except (BrokenPipeError, ConnectionResetError):
            record["outcome"] = "client_gone"


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18910)
    ap.add_argument("--log", default="", help="append one JSON line per request to this file")
    ap.add_argument("--chunk-delay-ms", type=float, default=60.0)
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer((ARGS.host, ARGS.port), Handler)
    srv.daemon_threads = True
    sys.stderr.write("mock_llm listening on http://%s:%d/v1\n" % (ARGS.host, ARGS.port))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
