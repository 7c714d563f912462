//! `ioc sim`: runs the simulator from the command line.

use crate::cli::SimArgs;
use ioc_sim::{MqttTarget, Scenario, SimConfig};

/// Builds the simulator's config from the flags.
pub fn config(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let scenarios = match &args.scenario {
        Some(list) => Scenario::parse_list(list)?,
        None => Vec::new(),
    };
    let reports = match (&args.api, &args.api_key) {
        (Some(base), Some(key)) => {
            let mut target = ioc_sim::ReportTarget::new(base.clone(), key.clone());
            target.operator_token.clone_from(&args.operator_token);
            target.per_min = args.reports_per_min;
            Some(target)
        }
        (Some(_), None) => {
            anyhow::bail!("--api needs --api-key (an Open311 key the engine accepts)")
        }
        (None, _) => None,
    };
    let mut mqtt = MqttTarget::parse(&args.mqtt)?;
    if let Some(files) = &mut mqtt.tls {
        files.ca_file.clone_from(&args.tls.mqtt_ca_file);
        files.client_cert.clone_from(&args.tls.mqtt_client_cert);
        files.client_key.clone_from(&args.tls.mqtt_client_key);
    }
    Ok(SimConfig {
        mqtt,
        topic_root: args.topic_root.clone(),
        rate: args.rate,
        duration: args.duration,
        seed: args.seed,
        qos: args.qos,
        scenarios,
        manifest: args.manifest.clone(),
        speedup: args.speedup,
        progress: !args.quiet,
        max_events: args.max_events,
        reports,
        ..SimConfig::default()
    })
}

/// Runs the simulator until its duration ends or Ctrl-C, then prints the summary.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let summary = ioc_sim::run(config(&args)?, crate::shutdown::signal()).await?;
    println!("{}", summary.to_json());
    Ok(())
}
