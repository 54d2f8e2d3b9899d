//! The `clawshim` binary: parse flags, load the config, serve (or run the demo).

use clap::FromArgMatches;
use clawshim_proxy::build_server;
use clawshim_proxy::commands::{demo, gen_key, manual};
use clawshim_proxy::config::{Cli, Command, Config};
use clawshim_proxy::ops::telemetry;
use pingora::server::RunArgs;

fn main() {
    let matches = manual::command().get_matches();
    if let Some(request) = manual::requested(&matches) {
        if let Err(e) = manual::write(request, &mut std::io::stdout().lock()) {
            eprintln!("clawshim: {e}");
            std::process::exit(1);
        }
        return;
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(Command::GenKey(opts)) = &cli.command {
        print!("{}", gen_key::gen_key_block(opts));
        return;
    }
    if let Some(Command::Doctor) = cli.command {
        std::process::exit(doctor(&cli.settings));
    }
    if let Some(Command::Usage) = cli.command {
        std::process::exit(usage(&cli.settings));
    }
    if let Some(Command::Demo) = cli.command {
        if let Ok(Some(local)) = clawshim_proxy::config::discover::discover(
            &clawshim_proxy::config::discover::ProcessEnv,
        ) {
            eprintln!(
                "clawshim demo: a local gateway is configured in {} ({}); run `clawshim` to serve it",
                local.path.display(),
                local.url
            );
        }
        let (settings, _gateway) = match demo::start(&cli.settings) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("clawshim demo: {e}");
                std::process::exit(1);
            }
        };
        let config = load_or_exit(&settings);
        let traces = telemetry::init(config.log_format, config.traces.as_ref());
        demo::print_banner(&config);
        build_server(config).run(RunArgs::default());
        // Send the spans still queued (bounded by the export timeout).
        drop(traces);
        return;
    }
    let config = load_or_exit(&cli.settings);
    if cli.check_config {
        for warning in &config.warnings {
            eprintln!("clawshim: warning: {warning}");
        }
        if let Some(path) = &config.gateway_discovered_from {
            println!(
                "gateway settings from the local gateway's config {}",
                path.display()
            );
        }
        println!("configuration OK: {config:?}");
        return;
    }
    let traces = telemetry::init(config.log_format, config.traces.as_ref());
    if let Some(path) = &config.gateway_discovered_from {
        tracing::info!(path = %path.display(), url = %config.gateway.url, "gateway URL and credential from the local gateway's config");
    }
    tracing::info!(?config, "starting clawshim");
    build_server(config).run(RunArgs::default());
    // Send the spans still queued (bounded by the export timeout).
    drop(traces);
}

/// `clawshim doctor` on its own runtime; logs only warnings, so the report stays readable.
fn doctor(settings: &clawshim_proxy::config::Settings) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clawshim doctor: {e}");
            return 1;
        }
    };
    let env = clawshim_proxy::config::discover::ProcessEnv;
    runtime.block_on(clawshim_proxy::commands::doctor::diagnose(
        settings,
        &env,
        &mut std::io::stdout().lock(),
    ))
}

/// `clawshim usage`: the table, or why there is none (exit status 1).
fn usage(settings: &clawshim_proxy::config::Settings) -> i32 {
    let config = load_or_exit(settings);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clawshim usage: {e}");
            return 1;
        }
    };
    let mut out = std::io::stdout().lock();
    match runtime.block_on(clawshim_proxy::commands::usage::report(&config, &mut out)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("clawshim usage: {e}");
            1
        }
    }
}

fn load_or_exit(settings: &clawshim_proxy::config::Settings) -> Config {
    match Config::load(settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("clawshim: {e}");
            std::process::exit(2);
        }
    }
}
