//! The `brandpulse` binary: parses arguments, sets up logging, runs one
//! command and maps its outcome to an exit code (0 ok, 2 bad input or
//! configuration, 1 runtime failure).

use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser;

use brandpulse::cli::{self, Cli, CliError};
use brandpulse::config::Env;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    brandpulse::logging::init(&cli::log_settings(&cli, &env));

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let result = runtime.block_on(cli::run(cli, &env, &mut stdout));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `brandpulse catalog list | head` closing the pipe early is not an error.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut last = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                let text = cause.to_string();
                // Wrappers often repeat their cause's text; print each thing once.
                if !last.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                last = text;
                source = cause.source();
            }
            ExitCode::from(e.exit_code())
        }
    }
}
