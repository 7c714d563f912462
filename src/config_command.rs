//! `ioc config print` and `ioc config check`: what an operator runs before starting the
//! engine, to see where every value comes from and to find a typo before it stops a start.

use crate::cli::{CheckArgs, ServeArgs};
use crate::config::EngineConfig;
use anyhow::Context;

/// Prints the effective configuration of `serve` with these flags, one `key = value` line per
/// setting, each followed by the layer it came from; secrets show as `[redacted]`.
pub fn print(args: &ServeArgs) -> anyhow::Result<()> {
    let loaded = crate::config::load_with(args)?;
    println!("# effective configuration (default < file < env < flag); origin after each value");
    for (key, value, origin) in loaded.layers.origins(&loaded.config) {
        println!("{key} = {value}  # {origin}");
    }
    Ok(())
}

/// Checks a config file (syntax, unknown keys and types with their line, then the values
/// against each other) and a rules file; any problem is an error, so the exit status says it.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.file.is_some() || args.rules.is_some(),
        "nothing to check: give a config file and/or --rules FILE"
    );
    if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        crate::config::parse_file(&text)
            .map_err(|error| anyhow::anyhow!("config file {}: {error}", path.display()))?;
        let config: EngineConfig = toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("config file {}: {error}", path.display()))?;
        config
            .validate()
            .with_context(|| format!("config file {}", path.display()))?;
        println!("{}: ok", path.display());
    }
    if let Some(path) = &args.rules {
        let rules = crate::serve::load_rules(Some(path.as_path()))?;
        println!("{}: ok, {} rules", path.display(), rules.rules.len());
    }
    Ok(())
}
