//! `brandpulse demo`: the whole pipeline on bundled sample posts, offline,
//! then the dashboard over the result (see [`crate::demo`]).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use secrecy::ExposeSecret;

use super::CliError;
use crate::config::{Config, Env};
use crate::demo::{self, DemoError, DemoOptions};

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the dashboard listens after the summary.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Exit after the summary instead of serving the dashboard.
    #[arg(long)]
    pub no_serve: bool,

    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,

    /// The directory the digest HTML files are written to.
    #[arg(long, value_name = "DIR", default_value = "brandpulse-demo")]
    pub out: PathBuf,
}

/// `brandpulse demo`. `config` is `None` when no config file was given and
/// the default one does not exist: then the built-in example config is used.
pub async fn demo(
    args: &DemoArgs,
    config: Option<Config>,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let config = match config {
        Some(config) => config,
        None => {
            writeln!(out, "no config file: using the example config built into brandpulse")?;
            demo::example_config(env)?
        }
    };
    // Bound before the crawl and the model: a taken port fails now, not
    // after a minute of work.
    let listener = if args.no_serve {
        None
    } else {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .map_err(|source| DemoError::Bind { addr: args.bind, source })?;
        Some(listener)
    };
    let options = DemoOptions { out_dir: args.out.clone(), quiet: args.quiet };
    let run = demo::run(config, &options, out).await?;
    let Some(listener) = listener else {
        writeln!(
            out,
            "  dashboard        not served (--no-serve); run `brandpulse demo` without it to browse"
        )?;
        run.store.close().await;
        return Ok(());
    };
    let addr = listener.local_addr().map_err(|source| DemoError::Bind { addr: args.bind, source })?;
    let (token, generated) = demo::dashboard_token(&run.config);
    writeln!(out, "  dashboard        http://{addr}/")?;
    if generated {
        // A local demo: the token is shown so the login page can be passed.
        writeln!(
            out,
            "  token            {} (made for this run; set [api] token_env to choose one)",
            token.expose_secret()
        )?;
    } else {
        writeln!(out, "  token            the [api] token of the config")?;
    }
    writeln!(out, "Serving the dashboard until Ctrl-C.")?;
    out.flush()?;
    let shutdown = async {
        // Without a signal handler the dashboard serves until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let served = demo::serve_dashboard(&run, listener, token, shutdown).await;
    run.store.close().await;
    served?;
    writeln!(out, "stopped")?;
    Ok(())
}
