//! The span queue between the request path and the OTLP exporter: a bounded channel that a
//! finished span enters without waiting (full: the span is dropped and counted), and one
//! thread that sends batches through the exporter. The SDK's own batch processor works the
//! same way but keeps its drop count to itself; this one counts every lost span in
//! `clawshim_trace_spans_dropped_total{reason}` ([`SpanDrop`]).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use opentelemetry::Context as OtelContext;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

use crate::ops::metrics::{self, SpanDrop};

/// Spans the export queue holds; beyond it new spans are dropped (and counted).
pub const QUEUE_SPANS: usize = 2048;
/// Spans per export request.
pub const BATCH_SPANS: usize = 512;
/// Longest a finished span waits before its batch is sent.
pub const BATCH_DELAY: Duration = Duration::from_secs(1);
/// Limit for one export request (connect and answer).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the thread looks for a flush or shutdown request while no span comes.
const CONTROL_POLL: Duration = Duration::from_millis(50);

enum Control {
    /// Send everything queued, then answer.
    Flush(SyncSender<()>),
    /// Send everything queued, shut the exporter down, answer and end the thread.
    Shutdown(SyncSender<()>),
}

/// A [`SpanProcessor`] with a bounded queue and its own export thread.
#[derive(Debug)]
pub struct CountedBatch {
    spans: SyncSender<SpanData>,
    control: Mutex<Option<mpsc::Sender<Control>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl CountedBatch {
    /// Start the export thread; `queue` spans at most wait, `batch` go in one request, a
    /// span waits at most `delay` for its batch to fill.
    pub fn start<E>(
        exporter: E,
        queue: usize,
        batch: usize,
        delay: Duration,
    ) -> std::io::Result<CountedBatch>
    where
        E: SpanExporter + 'static,
    {
        let (spans, span_rx) = mpsc::sync_channel(queue);
        let (control, control_rx) = mpsc::channel();
        let worker = thread::Builder::new()
            .name("clawshim-otlp".into())
            .spawn(move || Worker::new(exporter, span_rx, control_rx, batch, delay).run())?;
        Ok(CountedBatch {
            spans,
            control: Mutex::new(Some(control)),
            worker: Mutex::new(Some(worker)),
        })
    }

    fn ask(&self, make: fn(SyncSender<()>) -> Control, timeout: Duration) -> OTelSdkResult {
        let (done, done_rx) = mpsc::sync_channel(1);
        let sent = match self.control.lock() {
            Ok(guard) => guard.as_ref().is_some_and(|c| c.send(make(done)).is_ok()),
            Err(_) => false,
        };
        if !sent {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        done_rx
            .recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))
    }
}

impl SpanProcessor for CountedBatch {
    fn on_start(&self, _span: &mut Span, _cx: &OtelContext) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        match self.spans.try_send(span) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => metrics::get().spans_dropped(SpanDrop::QueueFull, 1),
            Err(TrySendError::Disconnected(_)) => {
                metrics::get().spans_dropped(SpanDrop::ShutDown, 1)
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(Control::Flush, EXPORT_TIMEOUT * 2)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let answer = self.ask(Control::Shutdown, timeout);
        if let Ok(mut control) = self.control.lock() {
            control.take();
        }
        // The thread ends right after answering; without an answer it is left to finish
        // its export on its own (bounded by the export timeout) rather than waited for.
        if answer.is_ok() {
            if let Some(worker) = self.worker.lock().ok().and_then(|mut w| w.take()) {
                let _ = worker.join();
            }
        }
        answer
    }

    /// The exporter got the resource before it moved to its thread (`Traces::start`).
    fn set_resource(&mut self, _resource: &Resource) {}
}

struct Worker<E> {
    exporter: E,
    spans: Receiver<SpanData>,
    control: mpsc::Receiver<Control>,
    batch: Vec<SpanData>,
    max_batch: usize,
    delay: Duration,
}

impl<E: SpanExporter> Worker<E> {
    fn new(
        exporter: E,
        spans: Receiver<SpanData>,
        control: mpsc::Receiver<Control>,
        max_batch: usize,
        delay: Duration,
    ) -> Self {
        Worker {
            exporter,
            spans,
            control,
            batch: Vec::with_capacity(max_batch),
            max_batch: max_batch.max(1),
            delay,
        }
    }

    fn run(mut self) {
        let mut due = Instant::now() + self.delay;
        loop {
            let wait = due
                .saturating_duration_since(Instant::now())
                .min(CONTROL_POLL);
            match self.spans.recv_timeout(wait) {
                Ok(span) => {
                    self.batch.push(span);
                    if self.batch.len() >= self.max_batch {
                        self.send();
                        due = Instant::now() + self.delay;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.send();
                    let _ = self.exporter.shutdown();
                    return;
                }
            }
            if Instant::now() >= due {
                self.send();
                due = Instant::now() + self.delay;
            }
            match self.control.try_recv() {
                Ok(Control::Flush(done)) => {
                    self.drain();
                    let _ = done.send(());
                }
                Ok(Control::Shutdown(done)) => {
                    self.drain();
                    let _ = self.exporter.shutdown();
                    let _ = done.send(());
                    return;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    self.drain();
                    let _ = self.exporter.shutdown();
                    return;
                }
            }
        }
    }

    /// Send every queued span.
    fn drain(&mut self) {
        while let Ok(span) = self.spans.try_recv() {
            self.batch.push(span);
            if self.batch.len() >= self.max_batch {
                self.send();
            }
        }
        self.send();
    }

    fn send(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max_batch));
        let count = batch.len();
        match block_on(self.exporter.export(batch)) {
            Ok(()) => metrics::get().trace_spans_exported.inc_by(count as u64),
            Err(e) => {
                metrics::get().spans_dropped(SpanDrop::ExportFailed, count);
                tracing::debug!(error = %e, spans = count, "trace export failed; spans dropped");
            }
        }
    }
}

/// Run a future to completion on this thread. The exporter's blocking HTTP client does its
/// work inside `poll`, so this never waits for a wake-up in practice, but it honours one.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct ThreadWaker(thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    /// A collector that does not answer: the first export waits until the test releases it
    /// (drops `release`); later ones go through.
    #[derive(Debug)]
    struct Unanswered {
        entered: Mutex<SyncSender<()>>,
        release: Mutex<Receiver<()>>,
    }

    impl SpanExporter for Unanswered {
        fn export(
            &self,
            _batch: Vec<SpanData>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            if let Ok(entered) = self.entered.lock() {
                let _ = entered.try_send(());
            }
            if let Ok(release) = self.release.lock() {
                let _ = release.recv_timeout(Duration::from_secs(20));
            }
            std::future::ready(Ok(()))
        }
    }

    fn count(reason: SpanDrop) -> u64 {
        metrics::get()
            .trace_spans_dropped
            .with_label_values(&[reason.label()])
            .get()
    }

    #[test]
    fn a_collector_that_does_not_answer_never_holds_a_span_and_the_overflow_is_counted() {
        let (entered, entered_rx) = mpsc::sync_channel(1);
        let (release, release_rx) = mpsc::channel::<()>();
        let exporter = Unanswered {
            entered: Mutex::new(entered),
            release: Mutex::new(release_rx),
        };
        let processor =
            CountedBatch::start(exporter, 4, 1, Duration::from_millis(1)).expect("export thread");
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        let tracer = provider.tracer("test");
        let full_before = count(SpanDrop::QueueFull);
        let exported_before = metrics::get().trace_spans_exported.get();

        // The first span's export hangs; four more fill the queue, three more overflow it.
        tracer.start("first").end();
        entered_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the first export started");
        for _ in 0..7 {
            tracer.start("waiting").end();
        }
        assert_eq!(count(SpanDrop::QueueFull) - full_before, 3);

        // The collector answers again: what was queued is sent, nothing more is lost.
        drop(release);
        provider.shutdown().expect("queued spans sent");
        assert_eq!(
            metrics::get().trace_spans_exported.get() - exported_before,
            5
        );
        assert_eq!(count(SpanDrop::QueueFull) - full_before, 3);
    }
}
