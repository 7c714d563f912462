//! `ioc sim`: runs the simulator from the command line.

use crate::cli::SimArgs;

/// Runs the simulator until its duration ends or Ctrl-C.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("the simulator is being wired in")
}
