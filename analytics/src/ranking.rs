//! Ranking (xếp hạng) of areas by a weighted composite of report, dossier and environment
//! indicators, each on a 0–100 scale where higher is better.

use serde::{Deserialize, Serialize};

/// Weight of each term in the composite (`[analytics.ranking_weights]`). Weights are
/// re-normalised over the terms an area has, so an area without air sensors is scored on the
/// rest; a weight of 0 leaves its term out. Defaults sum to 1: report on time 0.25, report
/// satisfaction 0.15, dossier on time 0.25, dossier online 0.10, dossier level 4 0.10,
/// environment 0.15.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankingWeights {
    /// Reports resolved within their SLA, percent.
    pub report_on_time: f64,
    /// Citizens' mean rating mapped to 0–100: (rating − 1) × 25.
    pub report_satisfaction: f64,
    /// Dossiers resolved on time, percent.
    pub dossier_on_time: f64,
    /// Dossiers received online, percent.
    pub dossier_online: f64,
    /// Dossiers received for level-4 services, percent.
    pub dossier_level4: f64,
    /// Air: 100 − min(VN_AQI, 100), so any AQI above "trung bình" scores 0.
    pub environment: f64,
}

impl Default for RankingWeights {
    fn default() -> Self {
        Self {
            report_on_time: 0.25,
            report_satisfaction: 0.15,
            dossier_on_time: 0.25,
            dossier_online: 0.10,
            dossier_level4: 0.10,
            environment: 0.15,
        }
    }
}

/// The values of the terms one area has (0–100 each); `None` where it has no data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RankTerms {
    /// See [`RankingWeights::report_on_time`].
    pub report_on_time: Option<f64>,
    /// See [`RankingWeights::report_satisfaction`].
    pub report_satisfaction: Option<f64>,
    /// See [`RankingWeights::dossier_on_time`].
    pub dossier_on_time: Option<f64>,
    /// See [`RankingWeights::dossier_online`].
    pub dossier_online: Option<f64>,
    /// See [`RankingWeights::dossier_level4`].
    pub dossier_level4: Option<f64>,
    /// See [`RankingWeights::environment`].
    pub environment: Option<f64>,
}

impl RankTerms {
    /// The satisfaction term of a mean 1–5 rating.
    pub fn satisfaction(rating_avg: f64) -> f64 {
        ((rating_avg - 1.0) * 25.0).clamp(0.0, 100.0)
    }

    /// The environment term of an AQI.
    pub fn environment(aqi: u32) -> f64 {
        100.0 - f64::from(aqi.min(100))
    }

    /// Σ wᵢ·tᵢ ÷ Σ wᵢ over the present terms with a positive weight, rounded to 2 decimals;
    /// `None` when no such term is present.
    pub fn score(&self, weights: &RankingWeights) -> Option<f64> {
        let pairs = [
            (self.report_on_time, weights.report_on_time),
            (self.report_satisfaction, weights.report_satisfaction),
            (self.dossier_on_time, weights.dossier_on_time),
            (self.dossier_online, weights.dossier_online),
            (self.dossier_level4, weights.dossier_level4),
            (self.environment, weights.environment),
        ];
        let (sum, total) = pairs
            .into_iter()
            .filter_map(|(term, weight)| {
                term.filter(|t| t.is_finite())
                    .filter(|_| weight.is_finite() && weight > 0.0)
                    .map(|t| (t * weight, weight))
            })
            .fold((0.0, 0.0), |(s, w), (tw, weight)| (s + tw, w + weight));
        (total > 0.0).then(|| crate::views::round2(sum / total))
    }
}

/// One area's place in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankRow {
    /// Area id.
    pub area: String,
    /// Area name.
    pub name: String,
    /// Composite score, 0–100.
    pub score: f64,
    /// 1 = best.
    pub rank: u32,
    /// The terms the score was made of.
    pub terms: RankTerms,
}

/// Ranks areas given as (id, name, terms): highest score first, equal scores by area id;
/// areas with no scorable term are left out (their rank is null).
pub fn rank(areas: Vec<(String, String, RankTerms)>, weights: &RankingWeights) -> Vec<RankRow> {
    let mut scored: Vec<(String, String, f64, RankTerms)> = areas
        .into_iter()
        .filter_map(|(area, name, terms)| {
            terms.score(weights).map(|score| (area, name, score, terms))
        })
        .collect();
    scored.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    scored
        .into_iter()
        .zip(1_u32..)
        .map(|((area, name, score, terms), rank)| RankRow {
            area,
            name,
            score,
            rank,
            terms,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, terms: RankTerms) -> (String, String, RankTerms) {
        (id.to_string(), id.to_uppercase(), terms)
    }

    #[test]
    fn weights_renormalise_over_present_terms() {
        let weights = RankingWeights::default();
        // Only dossier terms: (0.25·80 + 0.10·30 + 0.10·50) ÷ 0.45 = 28 ÷ 0.45 = 62.22.
        let terms = RankTerms {
            dossier_on_time: Some(80.0),
            dossier_online: Some(30.0),
            dossier_level4: Some(50.0),
            ..RankTerms::default()
        };
        assert_eq!(terms.score(&weights), Some(62.22));
        assert_eq!(RankTerms::default().score(&weights), None);
        let zero = RankingWeights {
            dossier_on_time: 0.0,
            dossier_online: 0.0,
            dossier_level4: 0.0,
            ..weights
        };
        assert_eq!(terms.score(&zero), None);
        assert_eq!(RankTerms::satisfaction(4.2), 80.0);
        assert_eq!(RankTerms::environment(41), 59.0);
        assert_eq!(RankTerms::environment(180), 0.0);
    }

    #[test]
    fn order_by_score_then_area_id() {
        let weights = RankingWeights {
            report_on_time: 1.0,
            report_satisfaction: 0.0,
            dossier_on_time: 3.0,
            dossier_online: 0.0,
            dossier_level4: 0.0,
            environment: 0.0,
        };
        let ranked = rank(
            vec![
                // (1·100 + 3·60) ÷ 4 = 70
                row(
                    "c",
                    RankTerms {
                        report_on_time: Some(100.0),
                        dossier_on_time: Some(60.0),
                        ..RankTerms::default()
                    },
                ),
                // 3·70 ÷ 3 = 70: ties with c, wins on id
                row(
                    "b",
                    RankTerms {
                        dossier_on_time: Some(70.0),
                        ..RankTerms::default()
                    },
                ),
                // (1·40 + 3·100) ÷ 4 = 85
                row(
                    "d",
                    RankTerms {
                        report_on_time: Some(40.0),
                        dossier_on_time: Some(100.0),
                        ..RankTerms::default()
                    },
                ),
                // only a zero-weight term: unranked
                row(
                    "a",
                    RankTerms {
                        environment: Some(90.0),
                        ..RankTerms::default()
                    },
                ),
            ],
            &weights,
        );
        let order: Vec<(&str, f64, u32)> = ranked
            .iter()
            .map(|r| (r.area.as_str(), r.score, r.rank))
            .collect();
        assert_eq!(order, vec![("d", 85.0, 1), ("b", 70.0, 2), ("c", 70.0, 3)]);
        assert_eq!(ranked[0].name, "D");
    }
}
