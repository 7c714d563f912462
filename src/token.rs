//! `ioc token`: prints a token signed with the same secret `serve` uses.

use crate::cli::{ServeArgs, TokenArgs};
use ioc_dashboard_api::{Authenticator, Role};

/// Mints and prints one token.
pub fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let role = Role::parse(&args.role)
        .ok_or_else(|| anyhow::anyhow!("role {:?} is not viewer, operator or admin", args.role))?;
    // The same layers `serve` reads, so both find the same secret.
    let config = crate::config::load(&ServeArgs {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        ..ServeArgs::default()
    })?;
    let secret = crate::secret::jwt_secret(
        config.jwt_secret.as_ref().map(crate::secret::expose),
        &config.data_dir,
    )?;
    let areas = args.areas.as_ref().map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect()
    });
    let token = Authenticator::new(&secret).mint(&args.sub, role, areas, args.ttl)?;
    println!("{token}");
    Ok(())
}
