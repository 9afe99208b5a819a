//! Command-line parsing: subcommands, their flags, and the usage text shown on any mistake.

use std::fmt;

pub(crate) const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  bench [--quick] [--only <crate>[,<crate>...]] [--no-readme]
        Run every crate's criterion benches (ours beside the peers), then write
        target/asyncperf-report/{REPORT.md,report.json,<crate>.svg} and print the tables.
        --quick      short warm-up and measurement (smoke test; about 3 minutes)
        --only       bench only these crates (directory or package name, e.g. prioq)
        --no-readme  do not refresh the measured tables in the crates' READMEs
                     (a full run refreshes them; --quick never does)
  test  [--only <crate>[,<crate>...]]
        Every unit, integration and doc test of the workspace (all features).
  ci    Everything CI checks: fmt, tidy (README, CHANGELOG, licences, benches and
        `# Cancel safety` docs of each publishable crate), clippy -D warnings, the
        tests, docs with warnings denied, the facade's feature combinations, and
        `cargo package` of each publishable crate.
  help  This text.";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Help,
    Bench(BenchArgs),
    Test(TestArgs),
    Ci(CiArgs),
}

/// Options of `cargo xtask bench`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BenchArgs {
    pub(crate) quick: bool,
    pub(crate) only: Vec<String>,
    pub(crate) no_readme: bool,
}

/// Options of `cargo xtask test`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TestArgs {
    pub(crate) only: Vec<String>,
}

/// Options of `cargo xtask ci` (none yet).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CiArgs {}

/// What was wrong with the command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FlagError {
    MissingCommand,
    UnknownCommand(String),
    UnknownFlag { command: &'static str, flag: String },
    MissingValue(&'static str),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingCommand => write!(f, "no command given"),
            Self::UnknownCommand(c) => write!(f, "unknown command `{c}`"),
            Self::UnknownFlag { command, flag } => {
                write!(f, "unknown option `{flag}` for `{command}`")
            }
            Self::MissingValue(flag) => write!(f, "`{flag}` needs a value"),
        }
    }
}

impl std::error::Error for FlagError {}

pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, FlagError> {
    let mut args = args.into_iter();
    let command = args.next().ok_or(FlagError::MissingCommand)?;
    match command.as_str() {
        "help" | "--help" | "-h" => Ok(Command::Help),
        "bench" => {
            let mut out = BenchArgs::default();
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--quick" => out.quick = true,
                    "--no-readme" => out.no_readme = true,
                    "--only" => out.only.extend(crate_list(args.next(), "--only")?),
                    _ => match arg.strip_prefix("--only=") {
                        Some(list) => out.only.extend(crate_list(Some(list.into()), "--only")?),
                        None => return Err(unknown("bench", arg)),
                    },
                }
            }
            Ok(Command::Bench(out))
        }
        "test" => {
            let mut out = TestArgs::default();
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--only" => out.only.extend(crate_list(args.next(), "--only")?),
                    _ => match arg.strip_prefix("--only=") {
                        Some(list) => out.only.extend(crate_list(Some(list.into()), "--only")?),
                        None => return Err(unknown("test", arg)),
                    },
                }
            }
            Ok(Command::Test(out))
        }
        "ci" => match args.next() {
            None => Ok(Command::Ci(CiArgs::default())),
            Some(arg) => Err(unknown("ci", arg)),
        },
        _ => Err(FlagError::UnknownCommand(command)),
    }
}

fn unknown(command: &'static str, flag: String) -> FlagError {
    FlagError::UnknownFlag { command, flag }
}

fn crate_list(value: Option<String>, flag: &'static str) -> Result<Vec<String>, FlagError> {
    let value = value.ok_or(FlagError::MissingValue(flag))?;
    let names: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        return Err(FlagError::MissingValue(flag));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, FlagError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn parses_bench_options() {
        assert_eq!(
            parse_str("bench --quick --only prioq,batcher --only=limiter"),
            Ok(Command::Bench(BenchArgs {
                quick: true,
                only: vec!["prioq".into(), "batcher".into(), "limiter".into()],
                no_readme: false,
            }))
        );
        assert_eq!(parse_str("bench"), Ok(Command::Bench(BenchArgs::default())));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_str(""), Err(FlagError::MissingCommand));
        assert_eq!(
            parse_str("benchh"),
            Err(FlagError::UnknownCommand("benchh".into()))
        );
        assert_eq!(
            parse_str("bench --fast"),
            Err(FlagError::UnknownFlag {
                command: "bench",
                flag: "--fast".into()
            })
        );
        assert_eq!(
            parse_str("test --only"),
            Err(FlagError::MissingValue("--only"))
        );
        assert_eq!(
            parse_str("ci --quick"),
            Err(FlagError::UnknownFlag {
                command: "ci",
                flag: "--quick".into()
            })
        );
    }
}
