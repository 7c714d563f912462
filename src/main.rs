//! `ioc`: the IOC engine's one binary — `serve`, `token`, `sim`, `demo`, `config`
//! (docs/configuration.md).

mod broker;
mod cli;
mod cluster;
mod config;
mod config_command;
mod demo;
mod history;
mod metrics;
mod mqtt_security;
mod secret;
mod serve;
mod shutdown;
mod sim;
mod token;

use clap::Parser;

/// mimalloc instead of the system allocator: events are many small strings and maps, and
/// glibc's malloc took a quarter of the in-process time (BENCHMARKS.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IOC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(config::load(&args)?, shutdown::signal()).await,
            cli::Command::Token(args) => token::run(&args),
            cli::Command::Sim(args) => sim::run(args).await,
            cli::Command::Demo(args) => demo::run(args).await,
            cli::Command::Config(cli::ConfigCommand::Print(args)) => config_command::print(&args),
            cli::Command::Config(cli::ConfigCommand::Check(args)) => config_command::check(&args),
        }
    })
}
