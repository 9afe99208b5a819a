//! asyncperf's automation, run as `cargo xtask <command>` (see `cargo xtask help`).
//!
//! CI calls exactly these commands (`.ci/run`), so what passes here passes there.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod ci;
mod flags;
mod machine;
mod report;
mod test;
mod tidy;
mod util;
mod workspace;

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match flags::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("error: {err}\n\n{}", flags::USAGE);
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        flags::Command::Help => {
            println!("{}", flags::USAGE);
            Ok(())
        }
        flags::Command::Bench(args) => bench::run(&args),
        flags::Command::Test(args) => test::run(&args),
        flags::Command::Ci(args) => ci::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
