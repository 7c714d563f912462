//! `ioc token`: prints a token signed with the same secret `serve` uses.

use crate::cli::{TokenArgs, parse_duration};
use ioc_dashboard_api::{Authenticator, Role};

/// Mints and prints one token.
pub fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let role = Role::parse(&args.role)
        .ok_or_else(|| anyhow::anyhow!("role {:?} is not viewer, operator or admin", args.role))?;
    let mut config = crate::config::read_file(args.config.as_deref())?;
    if let Some(dir) = &args.data_dir {
        config.data_dir.clone_from(dir);
    }
    let configured = std::env::var("IOC_JWT_SECRET")
        .ok()
        .or(config.jwt_secret.map(|s| s.expose().to_string()));
    let secret = crate::secret::jwt_secret(configured.as_deref(), &config.data_dir)?;
    let areas = args.areas.as_ref().map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect()
    });
    let ttl = parse_duration(&args.ttl)?;
    let token = Authenticator::new(&secret).mint(&args.sub, role, areas, ttl)?;
    println!("{token}");
    Ok(())
}
