//! Reading answers: a whole SSE body as typed events, a streamed body chunk by chunk (each
//! chunk within [`WAIT`]), and an OpenAI error object with its shape checked.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use crate::WAIT;

/// One SSE event of a chat stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Sse {
    /// A `data: {json}` event.
    Data(Value),
    /// `data: [DONE]`.
    Done,
    /// A `: comment` line (keep-alive).
    Comment(String),
}

/// Parse a whole SSE body.
pub fn parse_sse(body: &str) -> Vec<Sse> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let line = event.trim();
            if let Some(c) = line.strip_prefix(':') {
                Sse::Comment(c.trim().to_string())
            } else if let Some(d) = line.strip_prefix("data:") {
                let d = d.trim();
                if d == "[DONE]" {
                    Sse::Done
                } else {
                    Sse::Data(
                        serde_json::from_str(d).unwrap_or_else(|e| panic!("bad SSE json {d}: {e}")),
                    )
                }
            } else {
                panic!("unexpected SSE line {line:?}")
            }
        })
        .collect()
}

/// The concatenated `delta.content` of a parsed stream.
pub fn streamed_text(events: &[Sse]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Sse::Data(v) => v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// A response body read as it arrives; keeps the text read so far. Dropping it closes the
/// body (for HTTP/1 the connection, for HTTP/2 the stream): a client going away.
pub struct BodyReader {
    chunks: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    text: String,
}

impl BodyReader {
    /// Read `response`'s body from here on.
    pub fn new(response: reqwest::Response) -> BodyReader {
        BodyReader {
            chunks: Box::pin(response.bytes_stream()),
            text: String::new(),
        }
    }

    /// Everything read so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Read the next chunk: false at the end of the body, `Err` when the body was cut.
    /// Panics when no chunk comes within [`WAIT`].
    pub async fn try_chunk(&mut self) -> Result<bool, reqwest::Error> {
        let next = tokio::time::timeout(WAIT, self.chunks.next())
            .await
            .unwrap_or_else(|_| panic!("no body chunk within {WAIT:?} after {:?}", self.text));
        match next {
            Some(chunk) => {
                self.text.push_str(&String::from_utf8_lossy(&chunk?));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// [`Self::try_chunk`]; a cut body panics.
    pub async fn chunk(&mut self) -> bool {
        match self.try_chunk().await {
            Ok(more) => more,
            Err(e) => panic!("body cut ({e}) after {:?}", self.text),
        }
    }

    /// Read until the text contains `needle`; panics if the body ends first.
    pub async fn until(&mut self, needle: &str) {
        while !self.text.contains(needle) {
            assert!(
                self.chunk().await,
                "the body ended without {needle:?}: {:?}",
                self.text
            );
        }
    }

    /// Read to the end of the body; the whole text.
    pub async fn to_end(mut self) -> String {
        while self.chunk().await {}
        self.text
    }

    /// Read to the end of the body or until it is cut; the text read.
    pub async fn to_end_or_cut(mut self) -> String {
        while let Ok(true) = self.try_chunk().await {}
        self.text
    }
}

/// The status and body of an OpenAI error answer, checking its shape: JSON with
/// `error.{message,type,param,code}` and an `x-request-id` header.
pub async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert!(
        resp.headers().contains_key("x-request-id"),
        "every response has x-request-id"
    );
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    for k in ["message", "type", "param", "code"] {
        assert!(v["error"].get(k).is_some(), "error.{k} missing in {v}");
    }
    (status, v)
}
