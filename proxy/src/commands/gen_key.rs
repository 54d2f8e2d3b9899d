//! `clawshim gen-key`: a new API key, and the `[[keys]]` block that makes clawshim accept it.

use crate::config::cli::GenKey;
use crate::front_door::keys;

/// What `clawshim gen-key` prints: the key (shown once) and the `[[keys]]` block to add.
pub fn gen_key_block(opts: &GenKey) -> String {
    let (key, hash) = keys::generate();
    let mut block = format!(
        "# API key for {name:?}; give it to the client, it is not stored anywhere:\n#   {key}\n\
         # Add this to the config file:\n[[keys]]\nname = {name:?}\nsha256 = \"{hash}\"\n",
        name = opts.name
    );
    if let Some(agents) = &opts.agents {
        let list: Vec<String> = agents.iter().map(|a| format!("{a:?}")).collect();
        block.push_str(&format!("agents = [{}]\n", list.join(", ")));
    }
    if let Some(rpm) = opts.requests_per_minute {
        block.push_str(&format!("requests_per_minute = {rpm}\n"));
    }
    if let Some(n) = opts.max_concurrent_runs {
        block.push_str(&format!("max_concurrent_runs = {n}\n"));
    }
    // Written out even when derived from the name, so the operator sees where the key's
    // sessions live.
    let ns = match &opts.session_namespace {
        Some(ns) => ns.trim().to_ascii_lowercase(),
        None => clawshim_core::routing::namespace_from_name(&opts.name),
    };
    if let Err(e) = clawshim_core::routing::check_namespace(&ns) {
        block.push_str(&format!("# {e}: choose another with --session-namespace\n"));
    }
    block.push_str(&format!("session_namespace = {ns:?}\n"));
    block
}
