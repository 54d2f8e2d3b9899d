"""Shared by benches/streams_2000.py and benches/soak.py: clawshim and the mock gateway as
their own processes, and a minimal asyncio HTTP/1.1 client (one request per connection,
`Connection: close`), standard library only."""

import asyncio
import os
import re
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlparse

TOKEN = "secret"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def binary(name, env_var):
    """`$env_var`, else target/release/<name>, else target/debug/<name>."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    for profile in ("release", "debug"):
        path = os.path.join(target_dir(), profile, name)
        if os.path.isfile(path):
            return path
    raise SystemExit(
        f"{name} not built: cargo build -p clawshim-proxy -p clawshim-mock-gateway (or set {env_var})"
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_port(url):
    u = urlparse(url)
    return u.hostname, u.port or 80


class Processes:
    """The mock gateway and clawshim, each its own process; the mock can be restarted on the
    same port (clawshim reconnects to it)."""

    def __init__(self, protocol=3, chunk_delay_ms=20, threads=2, extra_env=None):
        self.protocol = protocol
        self.chunk_delay_ms = chunk_delay_ms
        self.threads = threads
        self.extra_env = extra_env or {}
        self.mock_bin = binary("clawshim-mock-gateway", "MOCK_GATEWAY_BIN")
        self.shim_bin = binary("clawshim", "CLAWSHIM_BIN")
        self.mock_port = free_port()
        self.shim_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="clawshim-load-")
        self.mock_log = os.path.join(self.dir, "mock.log")
        self.shim_log = os.path.join(self.dir, "clawshim.log")
        self.mock = None
        self.shim = None

    def start(self):
        self.start_mock()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CLAWSHIM_LISTEN": f"127.0.0.1:{self.shim_port}",
            "CLAWSHIM_GATEWAY_URL": f"ws://127.0.0.1:{self.mock_port}",
            "CLAWSHIM_GATEWAY_TOKEN": TOKEN,
            "CLAWSHIM_MAX_CONCURRENT_RUNS": "100000",
            "CLAWSHIM_THREADS": str(self.threads),
            "CLAWSHIM_GRACE_PERIOD_SECS": "0",
            "RUST_LOG": "warn",
        }
        env.update(self.extra_env)
        with open(self.shim_log, "ab") as log:
            self.shim = subprocess.Popen(
                [self.shim_bin], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log,
            )
        wait_ready("127.0.0.1", self.shim_port, self.shim)

    def start_mock(self):
        with open(self.mock_log, "ab") as log:
            self.mock = subprocess.Popen(
                [
                    self.mock_bin,
                    "--listen", f"127.0.0.1:{self.mock_port}",
                    "--protocol", str(self.protocol),
                    "--token", TOKEN,
                    "--chunk-delay-ms", str(self.chunk_delay_ms),
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.mock.poll() is not None:
                raise SystemExit(f"mock gateway exited: see {self.mock_log}")
            try:
                socket.create_connection(("127.0.0.1", self.mock_port), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("mock gateway not listening after 30 s")

    def stop_mock(self):
        if self.mock is not None:
            self.mock.kill()
            self.mock.wait()
            self.mock = None

    def restart_mock(self):
        self.stop_mock()
        self.start_mock()

    def stop(self):
        for p in (self.shim, self.mock):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def gateway_disconnects(self):
        try:
            with open(self.shim_log, errors="replace") as f:
                return sum(1 for line in f if "slow consumer" in line or "gateway: 1008" in line)
        except OSError:
            return 0


def thread_cpu(pid):
    """CPU seconds per thread name of `pid` (utime + stime of /proc/<pid>/task/*/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


def wait_ready(host, port, proc, limit=60):
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"clawshim exited with {proc.returncode}")
        try:
            status, _, _ = get_sync(host, port, "/readyz")
            if status == 200:
                return
            last = f"status {status}"
        except OSError as err:
            last = str(err)
        time.sleep(0.1)
    raise SystemExit(f"clawshim not ready after {limit} s: {last}")


def get_sync(host, port, path):
    """A blocking GET (start-up checks run outside the event loop)."""
    with socket.create_connection((host, port), 2) as s:
        s.sendall(head(host, port, None, "GET", path, b""))
        raw = bytearray()
        while chunk := s.recv(65536):
            raw += chunk
    return parse_response(bytes(raw))


async def request(host, port, token, method, path, body=b"", headers=None):
    """One request; returns (status, headers dict, body bytes, de-chunked)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head(host, port, token, method, path, body, headers) + body)
        await writer.drain()
        raw = await reader.read(-1)
    finally:
        writer.close()
    return parse_response(raw)


async def post_sse(host, port, token, body):
    """A streaming POST /v1/chat/completions; returns (status, [data of each event])."""
    status, _, payload = await request(host, port, token, "POST", "/v1/chat/completions", body)
    return status, sse_data(payload)


def head(host, port, token, method, path, body, headers=None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method == "POST":
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_response(raw):
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        raise OSError(f"incomplete response ({len(raw)} bytes)")
    lines = raw[:head_end].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = raw[head_end + 4:]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    return status, headers, body


def dechunk(data):
    out, i = bytearray(), 0
    while True:
        j = data.find(b"\r\n", i)
        if j < 0:
            raise OSError("truncated chunked body")
        size = int(data[i:j].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[j + 2:j + 2 + size]
        i = j + 2 + size + 2


def sse_data(payload):
    events = []
    for block in re.split(r"\r?\n\r?\n", payload.decode("utf-8", "replace")):
        data = [l[5:].lstrip() for l in block.splitlines() if l.startswith("data:")]
        if data:
            events.append("\n".join(data))
    return events
