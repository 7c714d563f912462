//! `ioc demo`: embedded broker, engine, simulator and dashboard in one process.

use crate::cli::DemoArgs;

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("the demo is being wired in")
}
