//! The subcommands besides serving: `demo`, `doctor`, `gen_key`, `usage`, and the generated
//! documentation (`manual`: shell completions and man pages).

pub mod demo;
pub mod doctor;
pub mod gen_key;
pub mod manual;
pub mod usage;
