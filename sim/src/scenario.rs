//! Scenarios: incidents switched on for a run (`--scenario rush-hour,flood,pollution,report-burst`).

use std::fmt;
use std::str::FromStr;

/// One incident the simulated city plays on top of its normal day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// Extra traffic demand all day: speeds collapse and most counters report `congested`.
    RushHour,
    /// Heavy rain: flood gauges rise towards and past their danger levels, humidity near 1.
    Flood,
    /// A smog episode (thermal inversion): particulates and NO2 several times their usual level.
    Pollution,
    /// A cluster of citizen reports of one category in one place; reports are posted through the
    /// Open311 API, which a later version of the simulator adds, so this is accepted and inert now.
    ReportBurst,
}

impl Scenario {
    /// Every scenario, in the order the command line lists them.
    pub const ALL: [Scenario; 4] = [
        Scenario::RushHour,
        Scenario::Flood,
        Scenario::Pollution,
        Scenario::ReportBurst,
    ];

    /// The name used on the command line (`rush-hour`, `flood`, `pollution`, `report-burst`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::RushHour => "rush-hour",
            Scenario::Flood => "flood",
            Scenario::Pollution => "pollution",
            Scenario::ReportBurst => "report-burst",
        }
    }

    /// Parses a comma-separated list (`rush-hour,flood`); blanks are ignored, repeats kept once.
    pub fn parse_list(list: &str) -> Result<Vec<Scenario>, UnknownScenario> {
        let mut scenarios = Vec::new();
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let scenario = name.parse()?;
            if !scenarios.contains(&scenario) {
                scenarios.push(scenario);
            }
        }
        Ok(scenarios)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scenario name that is not one of [`Scenario::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario `{0}` (expected rush-hour, flood, pollution or report-burst)")]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.as_str() == wanted)
            .ok_or_else(|| UnknownScenario(name.to_string()))
    }
}

/// The set of scenarios switched on, as flags the city model reads on every reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scenarios {
    /// [`Scenario::RushHour`] is on.
    pub rush_hour: bool,
    /// [`Scenario::Flood`] is on.
    pub flood: bool,
    /// [`Scenario::Pollution`] is on.
    pub pollution: bool,
    /// [`Scenario::ReportBurst`] is on.
    pub report_burst: bool,
}

impl Scenarios {
    /// Flags for the listed scenarios.
    pub fn from_list(list: &[Scenario]) -> Self {
        let mut set = Self::default();
        for scenario in list {
            match scenario {
                Scenario::RushHour => set.rush_hour = true,
                Scenario::Flood => set.flood = true,
                Scenario::Pollution => set.pollution = true,
                Scenario::ReportBurst => set.report_burst = true,
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_refuses_unknown_names() {
        assert_eq!(
            Scenario::parse_list("rush-hour, flood,,flood,REPORT_BURST"),
            Ok(vec![
                Scenario::RushHour,
                Scenario::Flood,
                Scenario::ReportBurst
            ])
        );
        assert_eq!(Scenario::parse_list(""), Ok(vec![]));
        let error = Scenario::parse_list("flood,earthquake").unwrap_err();
        assert_eq!(error, UnknownScenario("earthquake".into()));
        assert!(error.to_string().contains("earthquake"));
        for scenario in Scenario::ALL {
            assert_eq!(scenario.to_string().parse::<Scenario>(), Ok(scenario));
        }
        let flags = Scenarios::from_list(&[Scenario::Pollution]);
        assert!(flags.pollution && !flags.flood && !flags.rush_hour && !flags.report_burst);
    }
}
