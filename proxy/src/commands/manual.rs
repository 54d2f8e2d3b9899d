//! Shell completions and the man page, generated from the clap definition of [`Cli`] at run
//! time, so they can never drift from the flags. The two subcommands that print them are
//! added here, around `Cli::command()`, and handled before the rest of the command line is
//! turned into a [`Cli`].

use std::io::{self, Write};
use std::path::PathBuf;

use crate::config::Cli;
use clap::{value_parser, Arg, ArgMatches, CommandFactory};
use clap_complete::Shell;

/// A request for generated documentation instead of a server.
pub enum Manual {
    /// `clawshim completions <shell>`.
    Completions(Shell),
    /// `clawshim man`: the main page on stdout, or with `--dir` every page (one per
    /// subcommand too) written there as `clawshim.1`, `clawshim-demo.1`, ...
    Man(Option<PathBuf>),
}

/// The full command line: [`Cli`] plus `completions` and `man`.
pub fn command() -> clap::Command {
    Cli::command()
        .subcommand(
            clap::Command::new("completions")
                .about("Print the shell completion script for SHELL")
                .after_help(
                    "bash: clawshim completions bash > /etc/bash_completion.d/clawshim\n\
                     zsh: clawshim completions zsh > \"${fpath[1]}/_clawshim\"\n\
                     fish: clawshim completions fish > ~/.config/fish/completions/clawshim.fish",
                )
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(value_parser!(Shell)),
                ),
        )
        .subcommand(
            clap::Command::new("man")
                .about("Print the man page (roff): clawshim man | man -l -")
                .arg(
                    Arg::new("dir")
                        .long("dir")
                        .value_name("DIR")
                        .value_parser(value_parser!(PathBuf))
                        .help("Write every page (one per subcommand too) into DIR instead"),
                ),
        )
}

/// The documentation subcommand in `matches`, if that is what was asked for.
pub fn requested(matches: &ArgMatches) -> Option<Manual> {
    match matches.subcommand() {
        Some(("completions", sub)) => sub
            .get_one::<Shell>("shell")
            .copied()
            .map(Manual::Completions),
        Some(("man", sub)) => Some(Manual::Man(sub.get_one::<PathBuf>("dir").cloned())),
        _ => None,
    }
}

/// Write what `manual` asks for to `out`.
pub fn write(manual: Manual, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = command();
    match manual {
        Manual::Completions(shell) => {
            clap_complete::generate(shell, &mut cmd, "clawshim", out);
            Ok(())
        }
        Manual::Man(None) => clap_mangen::Man::new(cmd).render(out),
        Manual::Man(Some(dir)) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(cmd, &dir)
        }
    }
}
