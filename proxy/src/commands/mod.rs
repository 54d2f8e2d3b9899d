//! The subcommands besides serving: `demo`, `doctor`, and the generated documentation
//! (`manual`: shell completions and man pages).

pub mod demo;
pub mod doctor;
pub mod manual;
