//! The mock gateway as its own process, like a real gateway: the load scripts
//! (`benches/streams_2000.py`, `benches/soak.sh`) run it beside clawshim so it can be killed
//! and restarted, and so its CPU and memory are its own.
//!
//! `clawshim-mock-gateway [--listen 127.0.0.1:PORT] [--protocol 3|4] [--token T]
//! [--chunk-delay-ms N]`; prints its URL on stdout once listening and serves until killed.

use std::net::SocketAddr;
use std::time::Duration;

use clawshim_mock_gateway::{MockGateway, MockOptions, Protocol};

fn main() {
    let opts = match parse(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(message) => {
            eprintln!("clawshim-mock-gateway: {message}");
            std::process::exit(2);
        }
    };
    // One thread, as the real gateway is one Node.js process.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let mock = match MockGateway::start(opts).await {
            Ok(mock) => mock,
            Err(err) => {
                eprintln!("clawshim-mock-gateway: {err}");
                std::process::exit(1);
            }
        };
        println!("{}", mock.url());
        std::future::pending::<()>().await;
    });
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<MockOptions, String> {
    let mut opts = MockOptions::default();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                opts.bind = value()?
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--listen: {e}"))?
            }
            "--protocol" => {
                opts.protocol = match value()?.as_str() {
                    "3" => Protocol::V3,
                    "4" => Protocol::V4,
                    other => return Err(format!("--protocol: 3 or 4, not {other}")),
                };
            }
            "--token" => opts.token = Some(value()?),
            "--chunk-delay-ms" => {
                let ms = value()?
                    .parse()
                    .map_err(|e| format!("--chunk-delay-ms: {e}"))?;
                opts.chunk_delay = Duration::from_millis(ms);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(opts)
}
