//! The two minimal clients compared: the raw gateway client (the least a client of the
//! gateway protocol has to do) and an HTTP/1.1 keep-alive client, both without libraries on
//! the hot path.

use super::*;

pub(crate) type WsSink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// The envelope of a gateway frame, borrowed from the text.
#[derive(serde::Deserialize)]
pub(crate) struct WireFrame<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'a str,
    #[serde(default)]
    pub(crate) id: Option<&'a str>,
    #[serde(default)]
    pub(crate) ok: Option<bool>,
    #[serde(default)]
    pub(crate) event: Option<&'a str>,
    #[serde(default, borrow)]
    pub(crate) payload: Option<&'a serde_json::value::RawValue>,
}

/// The payload fields the raw client reads (`res` status, `agent` event run and stream).
#[derive(Default, serde::Deserialize)]
pub(crate) struct WirePayload<'a> {
    #[serde(default)]
    pub(crate) status: Option<&'a str>,
    #[serde(default, rename = "runId")]
    pub(crate) run_id: Option<&'a str>,
    #[serde(default)]
    pub(crate) stream: Option<&'a str>,
}

/// Times of one raw run, from sending the `agent` request.
pub(crate) struct RawTimes {
    pub(crate) accepted: Duration,
    pub(crate) first_delta: Duration,
    pub(crate) done: Duration,
}

#[derive(Default)]
pub(crate) struct RawPending {
    pub(crate) accepted: Option<Instant>,
    pub(crate) first_delta: Option<Instant>,
    pub(crate) done: Option<oneshot::Sender<(bool, Instant)>>,
}

/// One handshaken gateway socket; runs are multiplexed on it by request id (the run id is
/// the same uuid, as the `idempotencyKey`).
pub(crate) struct RawClient {
    pub(crate) sink: tokio::sync::Mutex<WsSink>,
    pub(crate) pending: Arc<Mutex<HashMap<String, RawPending>>>,
    pub(crate) reader: tokio::task::JoinHandle<()>,
}

impl RawClient {
    pub(crate) async fn connect(url: &str) -> io::Result<RawClient> {
        let mut ws = ws_open(url).await.map_err(io::Error::other)?;
        // `connect.challenge` first, then our `connect`, then `hello-ok` (traces: simple).
        let _challenge = next_json(&mut ws).await.map_err(io::Error::other)?;
        let connect = json!({
            "type": "req", "id": "connect-1", "method": "connect",
            "params": {
                "minProtocol": 3, "maxProtocol": 4,
                "client": {"id": "gateway-client", "version": "bench", "platform": "linux", "mode": "backend"},
                "role": "operator",
                "scopes": ["operator.read", "operator.write"],
                "auth": {"token": TOKEN},
            }
        });
        send_json(&mut ws, &connect)
            .await
            .map_err(io::Error::other)?;
        let hello = response(&mut ws, "connect-1")
            .await
            .map_err(io::Error::other)?;
        if hello["ok"] != true {
            return Err(io::Error::other(format!("connect refused: {hello}")));
        }
        let (sink, mut stream) = ws.split();
        let pending: Arc<Mutex<HashMap<String, RawPending>>> = Arc::default();
        let map = pending.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let now = Instant::now();
                // Only the fields a client needs; payloads stay unparsed unless looked at,
                // as in clawshim's own frame parsing.
                let Ok(frame) = serde_json::from_str::<WireFrame>(text.as_str()) else {
                    continue;
                };
                let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                match (frame.kind, frame.id, frame.event) {
                    ("res", Some(id), _) => {
                        let payload: WirePayload = frame
                            .payload
                            .and_then(|p| serde_json::from_str(p.get()).ok())
                            .unwrap_or_default();
                        if payload.status == Some("accepted") {
                            if let Some(p) = map.get_mut(id) {
                                p.accepted = Some(now);
                            }
                        } else if let Some(mut p) = map.remove(id) {
                            // The other times stay for the waiter, under a key of their own.
                            let done = p.done.take();
                            map.insert(format!("{id}/times"), p);
                            if let Some(done) = done {
                                let _ = done.send((frame.ok == Some(true), now));
                            }
                        }
                    }
                    ("event", _, Some("agent")) => {
                        let payload: WirePayload = frame
                            .payload
                            .and_then(|p| serde_json::from_str(p.get()).ok())
                            .unwrap_or_default();
                        if payload.stream == Some("assistant") {
                            if let Some(p) = payload.run_id.and_then(|id| map.get_mut(id)) {
                                p.first_delta.get_or_insert(now);
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(RawClient {
            sink: tokio::sync::Mutex::new(sink),
            pending,
            reader,
        })
    }

    /// One `agent` run with the params clawshim sends, to its final `res`.
    /// `agent` `broken` fails, and its final `res` is `ok:false` (traces: broken_agent).
    pub(crate) async fn run(&self, text: &str, agent: &str) -> io::Result<RawTimes> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        let req = json!({
            "type": "req", "id": id, "method": "agent",
            "params": {
                "message": text,
                "idempotencyKey": id,
                "agentId": agent,
                "sessionKey": format!("agent:{agent}:openai:{}", uuid::Uuid::new_v4()),
                "timeout": 600,
                "deliver": false,
            }
        })
        .to_string();
        self.lock().insert(
            id.clone(),
            RawPending {
                done: Some(tx),
                ..RawPending::default()
            },
        );
        let start = Instant::now();
        self.sink
            .lock()
            .await
            .send(Message::text(req))
            .await
            .map_err(io::Error::other)?;
        let (ok, done) = tokio::time::timeout(LIMIT, rx)
            .await
            .map_err(|_| io::Error::other("run timed out"))?
            .map_err(|_| io::Error::other("socket closed"))?;
        let times = self
            .lock()
            .remove(&format!("{id}/times"))
            .unwrap_or_default();
        if ok == (agent == "broken") {
            return Err(io::Error::other(format!("run of {agent}: ok {ok}")));
        }
        let since = |t: Option<Instant>| t.map_or(Duration::ZERO, |t| t - start);
        Ok(RawTimes {
            accepted: since(times.accepted),
            first_delta: since(times.first_delta),
            done: done - start,
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RawPending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client: one write per request, content-length and chunked
// bodies, times of the first byte and of a marker in the body.

/// One response and its times, from the request's write.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) first_byte: Duration,
    /// When the body first contained the marker asked for.
    pub(crate) marker: Option<Duration>,
    pub(crate) total: Duration,
}

pub(crate) struct HttpConn {
    pub(crate) tcp: TcpStream,
    pub(crate) host: String,
    pub(crate) buf: Vec<u8>,
}

impl HttpConn {
    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<HttpConn> {
        let tcp = tokio::time::timeout(LIMIT, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::other("connect timed out"))??;
        tcp.set_nodelay(true)?;
        Ok(HttpConn {
            tcp,
            host: addr.to_string(),
            buf: Vec::with_capacity(16 << 10),
        })
    }

    pub(crate) async fn get(&mut self, path: &str) -> io::Result<Reply> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.exchange(req.into_bytes(), None, false).await
    }

    pub(crate) async fn chat(&mut self, body: &[u8], marker: Option<&[u8]>) -> io::Result<Reply> {
        self.exchange(self.post(body), marker, false).await
    }

    /// Sends a stream request and returns once `marker` has arrived, leaving the stream open.
    pub(crate) async fn open_stream(
        &mut self,
        body: &[u8],
        marker: &[u8],
    ) -> io::Result<(u16, Duration)> {
        let r = self.exchange(self.post(body), Some(marker), true).await?;
        match r.marker {
            Some(at) => Ok((r.status, at)),
            None => Err(io::Error::other(format!(
                "no first delta (status {}): {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ))),
        }
    }

    pub(crate) fn post(&self, body: &[u8]) -> Vec<u8> {
        let mut req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        req
    }

    pub(crate) async fn exchange(
        &mut self,
        req: Vec<u8>,
        marker: Option<&[u8]>,
        stop_at_marker: bool,
    ) -> io::Result<Reply> {
        tokio::time::timeout(LIMIT, self.exchange_inner(req, marker, stop_at_marker))
            .await
            .map_err(|_| io::Error::other("response timed out"))?
    }

    pub(crate) async fn exchange_inner(
        &mut self,
        req: Vec<u8>,
        marker: Option<&[u8]>,
        stop_at_marker: bool,
    ) -> io::Result<Reply> {
        let start = Instant::now();
        self.tcp.write_all(&req).await?;
        let mut first_byte = None;
        // Headers.
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill(&mut first_byte).await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        self.buf.drain(..head_end);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("bad status line"))?;
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
        let mut body = Vec::new();
        let mut marker_at = None;
        // Looks for the marker in what `from` added (and the marker's length before it).
        let check = |body: &[u8], from: usize, marker_at: &mut Option<Duration>| {
            if let (Some(m), None) = (marker, *marker_at) {
                if find(&body[from.saturating_sub(m.len())..], m).is_some() {
                    *marker_at = Some(start.elapsed());
                }
            }
        };
        if chunked {
            loop {
                let Some(line_end) = find(&self.buf, b"\r\n") else {
                    self.fill(&mut first_byte).await?;
                    continue;
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]);
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
                if size == 0 {
                    // Last chunk, no trailers: `0\r\n\r\n`.
                    while self.buf.len() < line_end + 4 {
                        self.fill(&mut first_byte).await?;
                    }
                    self.buf.drain(..line_end + 4);
                    break;
                }
                while self.buf.len() < line_end + 2 + size + 2 {
                    self.fill(&mut first_byte).await?;
                }
                let from = body.len();
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                check(&body, from, &mut marker_at);
                if stop_at_marker && marker_at.is_some() {
                    break;
                }
            }
        } else {
            let length = length.unwrap_or(0);
            while self.buf.len() < length {
                self.fill(&mut first_byte).await?;
            }
            body.extend(self.buf.drain(..length));
            check(&body, 0, &mut marker_at);
        }
        Ok(Reply {
            status,
            body,
            first_byte: first_byte.map_or(Duration::ZERO, |t: Instant| t - start),
            marker: marker_at,
            total: start.elapsed(),
        })
    }

    /// Whether the server has neither closed nor reset the connection (without waiting).
    pub(crate) fn still_open(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.tcp.try_read(&mut chunk) {
                Ok(0) => return false,
                // Keep-alive comments may have arrived meanwhile.
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    }

    pub(crate) async fn fill(&mut self, first_byte: &mut Option<Instant>) -> io::Result<()> {
        let mut chunk = [0u8; 16 << 10];
        let n = self.tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        first_byte.get_or_insert_with(Instant::now);
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

pub(crate) fn chat_body(text: &str, stream: bool) -> Vec<u8> {
    chat_body_for("openclaw/main", text, stream)
}

pub(crate) fn chat_body_for(model: &str, text: &str, stream: bool) -> Vec<u8> {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    })
    .to_string()
    .into_bytes()
}

pub(crate) fn base_addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("shim address")
}
