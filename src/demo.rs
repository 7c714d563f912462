//! `ioc demo`: embedded broker, engine, simulator and dashboard in one process.

use crate::cli::DemoArgs;
use crate::config::EngineConfig;
use ioc_dashboard_api::Role;
use ioc_sim::{MqttTarget, SimConfig};
use std::time::Duration;

/// The demo's Open311 key, printed for trying the API by hand.
const DEMO_API_KEY: &str = "demo-app-key";

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let scenarios = match args.scenario.as_str() {
        "none" => Vec::new(),
        list => ioc_sim::Scenario::parse_list(list)?,
    };
    let config = EngineConfig {
        mqtt: "embedded".into(),
        listen: available_listen(&args.listen)?,
        data_dir: args.data_dir.clone(),
        open311: crate::config::Open311Config {
            api_keys: vec![DEMO_API_KEY.into()],
            ..crate::config::Open311Config::default()
        },
        ..EngineConfig::default()
    };
    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let stopped = |stop: &tokio::sync::broadcast::Sender<()>| {
        let mut receiver = stop.subscribe();
        async move {
            let _ = receiver.recv().await;
        }
    };
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let engine = tokio::spawn(crate::serve::run_with(config, stopped(&stop), started_tx));
    let Ok(started) = started_rx.await else {
        return match engine.await {
            Ok(result) => result,
            Err(error) => Err(error.into()),
        };
    };
    // Start the simulator only once the engine's subscription is in place, so nothing the
    // simulator publishes goes to a broker with no subscriber.
    while !started.mqtt.is_subscribed() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = started.auth.mint(
        "demo-operator",
        Role::Operator,
        None,
        Duration::from_secs(12 * 3600),
    )?;
    let (host, port) = broker_address(&started.broker);
    println!();
    println!("  IOC demo is running.");
    println!(
        "  Dashboard:   http://{}/?access_token={token}",
        started.http
    );
    println!(
        "  Overview:    curl -H 'Authorization: Bearer {token}' http://{}/api/views/overview",
        started.http
    );
    println!(
        "  Live views:  ws://{}/ws?access_token=<token>",
        started.http
    );
    println!("  MQTT broker: mqtt://{host}:{port} (publish to city/{{area}}/{{kind}}/{{source}})");
    println!("  Open311 key: {DEMO_API_KEY}");
    println!("  Ctrl-C stops everything.");
    println!();

    let mut reports = ioc_sim::ReportTarget::new(format!("http://{}", started.http), DEMO_API_KEY);
    reports.operator_token = Some(token.clone());
    let sim_config = SimConfig {
        mqtt: MqttTarget::new(host, port),
        rate: args.rate,
        duration: Duration::from_secs(365 * 24 * 3600),
        seed: args.seed,
        qos: 1,
        progress: false,
        reports: Some(reports),
        scenarios,
        ..SimConfig::default()
    };
    let simulator = tokio::spawn(ioc_sim::run(sim_config, stopped(&stop)));
    crate::shutdown::signal().await;
    let _ = stop.send(());
    match simulator.await {
        Ok(Ok(summary)) => tracing::info!(sent = summary.sent, "simulator stopped"),
        Ok(Err(error)) => tracing::warn!(%error, "simulator ended with an error"),
        Err(error) => tracing::warn!(%error, "simulator task failed"),
    }
    match engine.await {
        Ok(result) => result,
        Err(error) => Err(error.into()),
    }
}

/// The demo's HTTP address: `listen` when its port is free, else the same host on a free
/// port (said on stderr), so a second demo or another service on 8080 does not stop it.
fn available_listen(listen: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::net::ToSocketAddrs;
    let wanted = listen
        .to_socket_addrs()
        .with_context(|| format!("--listen {listen:?} is not a host:port address"))?
        .next()
        .with_context(|| format!("--listen {listen:?} names no address"))?;
    match std::net::TcpListener::bind(wanted) {
        Ok(probe) => {
            drop(probe);
            Ok(listen.to_string())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            let probe = std::net::TcpListener::bind((wanted.ip(), 0))
                .with_context(|| format!("no free port on {} for the dashboard", wanted.ip()))?;
            let free = probe.local_addr()?;
            drop(probe);
            tracing::warn!(taken = %wanted, using = %free, "HTTP port taken; the demo uses a free one");
            eprintln!(
                "HTTP port {} is taken; the dashboard listens on {} instead",
                wanted.port(),
                free.port()
            );
            Ok(free.to_string())
        }
        Err(error) => Err(error).with_context(|| format!("cannot listen on {listen}")),
    }
}

/// Host and port of an `mqtt://host:port` URL.
fn broker_address(url: &str) -> (String, u16) {
    match ioc_ingest::mqtt::BrokerUrl::parse(url) {
        Ok(broker) => (broker.host, broker.port),
        Err(_) => ("127.0.0.1".into(), 1883),
    }
}
