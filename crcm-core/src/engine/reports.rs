//! Reports (seeds 002, 004), typed and serde-serializable, each answered by
//! the backend where the data is: grouped counts ([`crate::store::Store::tally`],
//! a SQL `GROUP BY`), counts and indexed pages. No report loads every lead.
//!
//! ```
//! # use crcm_core::prelude::*;
//! # use crcm_core::engine::reports::Interval;
//! # async fn run(engine: &Engine) -> Result<(), crcm_core::Error> {
//! let maria = Actor::new(crcm_core::user_id!("maria"), Role::Manager);
//! let q1 = Interval::days(engine.now() - chrono::Duration::days(90), 90);
//! for row in engine.report_sources(&maria, &q1).await? {
//!     println!("{:?}: {} created, {} qualified, {} converted", row.source, row.created, row.qualified, row.converted);
//! }
//! let quality = engine.report_data_quality(&maria).await?;
//! println!("{} open leads, {} without an expected close date", quality.open, quality.missing[0].count);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::config::{Config, Outcome, PhaseType};
use crate::domain::deal::DealStatus;
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::ids::{Code, UserId};
use crate::domain::lead::{Lead, LeadStatus};
use crate::domain::money::MoneySum;
use crate::engine::Engine;
use crate::engine::board;
use crate::engine::query::{LeadQuery, LeadSort};
use crate::rules::access::{self, Actor};
use crate::rules::error::Error;
use crate::store::query::{DateRange, FollowUpFilter, LeadField, TimeRange};
use crate::store::tally::{
    DealGroup, DealTally, FollowUpTally, LeadGroup, LeadTally, PhaseReachTally, PhaseTimeTally, Tally,
};
use crate::store::{DealFilter, LeadFilter, LeadOrder, Page, PageRequest, StoreExt};

/// A report's interval, `[from, before)`; an unset end is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Interval {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub before: Option<DateTime<Utc>>,
}

impl Interval {
    /// `days` days from `from`. An end past the last time chrono represents
    /// leaves the interval open; a negative `days` gives an empty interval.
    pub fn days(from: DateTime<Utc>, days: i64) -> Self {
        let before = match chrono::TimeDelta::try_days(days).and_then(|d| from.checked_add_signed(d)) {
            Some(end) => Some(end.max(from)),
            None if days > 0 => None,
            None => Some(from),
        };
        Self {
            from: Some(from),
            before,
        }
    }

    /// The same interval as a filter's time range.
    pub fn range(&self) -> TimeRange {
        TimeRange {
            from: self.from,
            before: self.before,
        }
    }
}

/// Conversion by source: of the leads created in the interval, how many
/// per source are now qualified (or converted), converted, and lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SourceRow {
    /// The source (`None`: leads without one).
    pub source: Option<Code>,
    /// Leads created.
    pub created: u64,
    /// Of them, qualified or converted now.
    pub qualified: u64,
    /// Of them, converted now.
    pub converted: u64,
    /// Of them, disqualified now.
    pub lost: u64,
    /// Of them, in a closing phase whose outcome is won (closed by the
    /// phase rule, e.g. imported history), whatever their status.
    pub closed_won: u64,
    /// Of them, in a closing phase whose outcome is lost.
    pub closed_lost: u64,
}

/// Why leads were closed: one reason and how many leads carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReasonRow {
    /// `lost` (disqualified leads' lost reason) or `closing` (the closing
    /// reason of leads in a closing phase).
    pub kind: String,
    /// The reason's code.
    pub reason: Code,
    /// How many leads.
    pub count: u64,
}

/// One sales person's open work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WorkloadRow {
    /// The owner.
    pub owner: UserId,
    /// Open leads they own.
    pub open_leads: u64,
    /// Of them, rotten.
    pub rotten: u64,
    /// Follow-ups assigned to them, past due and not done.
    pub overdue_follow_ups: u64,
}

/// How many open leads lack one value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MissingCount {
    /// The value.
    pub field: LeadField,
    /// Open leads without it.
    pub count: u64,
}

/// Seed 004's data quality: open leads that lack values, and the first ones
/// to clarify (no expected close date and no description).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DataQuality {
    /// Open leads.
    pub open: u64,
    /// Per value ([`LeadField::ALL`] order), open leads without it.
    pub missing: Vec<MissingCount>,
    /// The first open leads with neither an expected close date nor a
    /// description ("the first candidates for clarification"), by number.
    pub first_to_clarify: Vec<Lead>,
}

/// The deal pipeline's value and forecast at one stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ForecastRow {
    /// Pipeline.
    pub pipeline: Code,
    /// Stage.
    pub stage: Code,
    /// Open deals at the stage.
    pub deals: u64,
    /// Their value, per currency.
    pub value: Vec<MoneySum>,
    /// Their probability-weighted value, per currency.
    pub weighted: Vec<MoneySum>,
}

/// The length of a [`TrendRow`]'s period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TrendPeriod {
    /// Calendar days (UTC).
    Day,
    /// Weeks from Monday (ISO weeks, UTC).
    Week,
    /// Calendar months (UTC).
    #[default]
    Month,
}

impl TrendPeriod {
    /// The start of the period holding `at`.
    fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        use chrono::{Datelike, NaiveDate, TimeZone};
        let day = at.date_naive();
        let first = match self {
            Self::Day => day,
            Self::Week => day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday())),
            Self::Month => NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day),
        };
        Utc.from_utc_datetime(&first.and_time(chrono::NaiveTime::MIN))
    }

    /// The start of the period after the one starting at `start`.
    fn next(self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Day => start.checked_add_days(chrono::Days::new(1)),
            Self::Week => start.checked_add_days(chrono::Days::new(7)),
            Self::Month => start.checked_add_months(chrono::Months::new(1)),
        }
    }
}

/// Leads created and closed in one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrendRow {
    /// The period's first instant.
    pub from: DateTime<Utc>,
    /// Leads created in it.
    pub created: u64,
    /// Leads closed in it ([`Lead::closed_at`]: converted, disqualified,
    /// merged, or moved to a closing phase).
    pub closed: u64,
}

/// The most periods a trend report covers.
pub const MAX_TREND_PERIODS: usize = 400;

/// One phase of the funnel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FunnelRow {
    /// The phase's code.
    pub phase: Code,
    /// Whether it is a closing phase.
    pub closing: bool,
    /// Leads of the cohort that ever entered it (each counted once).
    pub reached: u64,
    /// `reached` of the next phase on the way to a successful close, as a
    /// share of this one's (0.0 to 1.0 when leads move through the phases
    /// in order; above 1.0 when leads skip this phase). `None` for the last
    /// phase of that way, for phases configured as lost, and when no lead
    /// reached this one.
    pub to_next: Option<f64>,
}

/// The funnel of one account type (seed 002): of the leads created in an
/// interval, how many reached each phase, from their phase history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Funnel {
    /// The account type.
    pub account_type: Code,
    /// The cohort: leads created in this interval.
    pub interval: Interval,
    /// Its phases in funnel order (the configuration's `order`).
    pub phases: Vec<FunnelRow>,
}

/// How long leads stayed in one phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PhaseTimeRow {
    /// The phase's code.
    pub phase: Code,
    /// Stays in it that ended in the interval.
    pub stays: u64,
    /// Their average length in hours (exact to the second).
    pub average_hours: f64,
    /// Their median length in hours, counting each stay in whole hours
    /// (rounded down); the mean of the two middle stays when `stays` is even.
    pub median_hours: f64,
}

/// The median of a histogram of whole hours given in ascending order.
pub(crate) fn median_hours(histogram: &[(i64, u64)]) -> f64 {
    let n: u64 = histogram.iter().map(|(_, c)| c).sum();
    if n == 0 {
        return 0.0;
    }
    // The value at 0-based position `i` of the sorted stays.
    let at = |i: u64| {
        let mut seen = 0;
        for (hours, count) in histogram {
            seen += count;
            if i < seen {
                return *hours;
            }
        }
        0
    };
    if n % 2 == 1 {
        at(n / 2) as f64
    } else {
        (at(n / 2 - 1) as f64 + at(n / 2) as f64) / 2.0
    }
}

impl Engine {
    /// Conversion by source (seed 002): of the leads created in the
    /// interval, per source, how many are now qualified (or converted),
    /// converted and lost, and how many sit in a won or lost closing phase.
    /// One grouped count.
    pub async fn report_sources(&self, actor: &Actor, interval: &Interval) -> Result<Vec<SourceRow>, Error> {
        let (config, _) = self.config().await?;
        let tally = Tally::Leads(LeadTally {
            filter: LeadFilter {
                created: interval.range(),
                visible: access::visible(actor, &config),
                ..LeadFilter::default()
            },
            by: vec![LeadGroup::Source, LeadGroup::Status, LeadGroup::Phase],
        });
        // The outcome of each closing phase, by the key the tally groups by.
        let outcomes: HashMap<String, Outcome> = config
            .phases
            .iter()
            .filter(|p| p.phase_type == PhaseType::Closing)
            .filter_map(|p| Some((p.reference().to_string(), p.outcome?)))
            .collect();
        let mut out: Vec<SourceRow> = Vec::new();
        for row in self.store.tally(&tally).await? {
            let source = row.key.first().cloned().flatten().and_then(|c| Code::new(c).ok());
            let status = row.key.get(1).cloned().flatten().unwrap_or_default();
            let outcome = row
                .key
                .get(2)
                .cloned()
                .flatten()
                .and_then(|p| outcomes.get(&p).copied());
            let i = match out.iter().position(|r| r.source == source) {
                Some(i) => i,
                None => {
                    out.push(SourceRow {
                        source,
                        created: 0,
                        qualified: 0,
                        converted: 0,
                        lost: 0,
                        closed_won: 0,
                        closed_lost: 0,
                    });
                    out.len() - 1
                }
            };
            let r = &mut out[i];
            r.created += row.count;
            if status == LeadStatus::Qualified.as_str() || status == LeadStatus::Converted.as_str() {
                r.qualified += row.count;
            }
            if status == LeadStatus::Converted.as_str() {
                r.converted += row.count;
            }
            if status == LeadStatus::Disqualified.as_str() {
                r.lost += row.count;
            }
            match outcome {
                Some(Outcome::Won) => r.closed_won += row.count,
                Some(Outcome::Lost) => r.closed_lost += row.count,
                None => {}
            }
        }
        Ok(out)
    }

    /// The configuration, refusing an account type it does not define.
    pub(crate) async fn config_with_account_type(&self, account_type: &Code) -> Result<Config, Error> {
        let (config, _) = self.config().await?;
        if config.account_type(account_type).is_none() {
            return Err(InputError::UnknownReference {
                kind: ReferenceKind::AccountType,
                code: account_type.to_string(),
            }
            .into());
        }
        Ok(config)
    }

    /// The funnel of an account type (seed 002): of its leads created in
    /// the interval, how many entered each phase, read from the phase steps
    /// every phase change records (one grouped count), with the conversion
    /// to the next phase. Phases that are no longer configured are left out.
    pub async fn report_funnel(
        &self,
        actor: &Actor,
        account_type: &Code,
        interval: &Interval,
    ) -> Result<Funnel, Error> {
        let config = self.config_with_account_type(account_type).await?;
        let rows = self
            .store
            .tally(&Tally::PhaseReach(PhaseReachTally {
                account_type: account_type.clone(),
                created: interval.range(),
                visible: access::visible(actor, &config),
            }))
            .await?;
        let reached = |code: &Code| {
            rows.iter()
                .find(|r| r.key.first().and_then(Option::as_deref) == Some(code.as_str()))
                .map_or(0, |r| r.count)
        };
        let phases = config.phases_of(account_type);
        let lost = |p: &&crate::domain::config::Phase| p.outcome == Some(crate::domain::config::Outcome::Lost);
        let mut out: Vec<FunnelRow> = Vec::with_capacity(phases.len());
        for (i, p) in phases.iter().enumerate() {
            let here = reached(&p.code);
            let next = phases[i + 1..].iter().find(|n| !lost(n));
            let to_next = match next {
                Some(n) if here > 0 && !lost(p) => Some(reached(&n.code) as f64 / here as f64),
                _ => None,
            };
            out.push(FunnelRow {
                phase: p.code.clone(),
                closing: p.phase_type == PhaseType::Closing,
                reached: here,
                to_next,
            });
        }
        Ok(Funnel {
            account_type: account_type.clone(),
            interval: *interval,
            phases: out,
        })
    }

    /// Time in phase (seed 004): per phase of the account type, the stays
    /// that ended in the interval, their average and median length. One
    /// grouped count over the phase steps, by phase and whole hours.
    pub async fn report_time_in_phase(
        &self,
        actor: &Actor,
        account_type: &Code,
        interval: &Interval,
    ) -> Result<Vec<PhaseTimeRow>, Error> {
        let config = self.config_with_account_type(account_type).await?;
        let rows = self
            .store
            .tally(&Tally::PhaseTime(PhaseTimeTally {
                account_type: account_type.clone(),
                left: interval.range(),
                visible: access::visible(actor, &config),
            }))
            .await?;
        let mut out = Vec::new();
        for p in config.phases_of(account_type) {
            let mut histogram: Vec<(i64, u64)> = Vec::new();
            let mut seconds: i64 = 0;
            for r in rows
                .iter()
                .filter(|r| r.key.first().and_then(Option::as_deref) == Some(p.code.as_str()))
            {
                let hours = r.key.get(1).and_then(Option::as_deref).and_then(|h| h.parse().ok());
                histogram.push((hours.unwrap_or(0), r.count));
                seconds = seconds.saturating_add(i64::try_from(r.value).unwrap_or(i64::MAX));
            }
            histogram.sort_unstable();
            let stays: u64 = histogram.iter().map(|(_, c)| c).sum();
            if stays == 0 {
                continue;
            }
            out.push(PhaseTimeRow {
                phase: p.code.clone(),
                stays,
                average_hours: seconds as f64 / 3600.0 / stays as f64,
                median_hours: median_hours(&histogram),
            });
        }
        Ok(out)
    }

    /// Leads created and closed per period (day, week or month, UTC) over
    /// the interval: two counts per period. An interval without a start
    /// starts at the first lead's creation, one without an end ends now.
    /// At most [`MAX_TREND_PERIODS`] periods (`too_many` beyond).
    pub async fn report_trend(
        &self,
        actor: &Actor,
        interval: &Interval,
        period: TrendPeriod,
    ) -> Result<Vec<TrendRow>, Error> {
        let (config, _) = self.config().await?;
        let visible = access::visible(actor, &config);
        let from = match interval.from {
            Some(from) => from,
            None => {
                let first = self
                    .store
                    .leads(
                        &LeadFilter {
                            visible: visible.clone(),
                            ..LeadFilter::default()
                        },
                        &LeadOrder {
                            key: crate::store::LeadKey::Created,
                            descending: false,
                        },
                        &PageRequest {
                            limit: 1,
                            ..PageRequest::default()
                        },
                    )
                    .await?;
                match first.items.first() {
                    Some(lead) => lead.created_at,
                    None => return Ok(Vec::new()),
                }
            }
        };
        let end = interval.before.unwrap_or_else(|| self.now());
        let mut rows = Vec::new();
        let mut start = period.start_of(from);
        while start < end {
            if rows.len() >= MAX_TREND_PERIODS {
                return Err(InputError::TooMany {
                    field: "trend periods".into(),
                    max: MAX_TREND_PERIODS,
                }
                .into());
            }
            let Some(next) = period.next(start) else { break };
            // The interval's own ends cut the first and last periods.
            let range = TimeRange {
                from: Some(start.max(from)),
                before: Some(next.min(end)),
            };
            let created = LeadFilter {
                created: range,
                visible: visible.clone(),
                ..LeadFilter::default()
            };
            let closed = LeadFilter {
                closed_at: range,
                visible: visible.clone(),
                ..LeadFilter::default()
            };
            rows.push(TrendRow {
                from: start,
                created: self.store.count_leads(&created).await?,
                closed: self.store.count_leads(&closed).await?,
            });
            start = next;
        }
        Ok(rows)
    }

    /// Closed leads by reason: the lost reasons of disqualified leads and the
    /// closing reasons of leads in closing phases, counting the leads that
    /// closed in the interval ([`Lead::closed_at`]). Two grouped counts.
    pub async fn report_reasons(&self, actor: &Actor, interval: &Interval) -> Result<Vec<ReasonRow>, Error> {
        let visible = self.seen_by(actor).await?;
        let mut out = Vec::new();
        for (kind, group, statuses) in [
            ("lost", LeadGroup::LostReason, Some([LeadStatus::Disqualified].into())),
            ("closing", LeadGroup::ClosingReason, None),
        ] {
            let tally = Tally::Leads(LeadTally {
                filter: LeadFilter {
                    closed_at: interval.range(),
                    statuses,
                    visible: visible.clone(),
                    ..LeadFilter::default()
                },
                by: vec![group],
            });
            for row in self.store.tally(&tally).await? {
                if let Some(reason) = row.key.first().cloned().flatten().and_then(|c| Code::new(c).ok()) {
                    out.push(ReasonRow {
                        kind: kind.to_owned(),
                        reason,
                        count: row.count,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Workload per sales person (seed 004): open leads per owner, how many
    /// of them are rotten, and the follow-ups assigned to them that are past
    /// due and not done. Three grouped counts.
    pub async fn report_workload(&self, actor: &Actor) -> Result<Vec<WorkloadRow>, Error> {
        let (config, _) = self.config().await?;
        let visible = access::visible(actor, &config);
        let open = LeadFilter {
            closed: Some(board::open_leads(&config)),
            visible: visible.clone(),
            ..LeadFilter::default()
        };
        let mut rotten = LeadQuery {
            rotten: true,
            ..LeadQuery::default()
        }
        .resolve(&config, self.now())
        .0;
        rotten.visible = visible.clone();
        let mut out: Vec<WorkloadRow> = Vec::new();
        for (filter, is_rotten) in [(open, false), (rotten, true)] {
            let tally = Tally::Leads(LeadTally {
                filter,
                by: vec![LeadGroup::Owner],
            });
            for row in self.store.tally(&tally).await? {
                let Some(owner) = row.key.first().cloned().flatten().and_then(|o| UserId::new(o).ok()) else {
                    continue;
                };
                let r = workload_row(&mut out, owner);
                if is_rotten {
                    r.rotten += row.count;
                } else {
                    r.open_leads += row.count;
                }
            }
        }
        let overdue = Tally::FollowUps(FollowUpTally {
            filter: FollowUpFilter {
                done: Some(false),
                due: DateRange {
                    from: None,
                    before: Some(self.now().date_naive()),
                },
                ..FollowUpFilter::default()
            },
        });
        for row in self.store.tally(&overdue).await? {
            if let Some(user) = row.key.first().cloned().flatten().and_then(|o| UserId::new(o).ok())
                // An actor who does not see all leads sees the overdue
                // follow-ups of the people whose leads they see.
                && visible.as_ref().is_none_or(|v| v.owners.contains(&user))
            {
                workload_row(&mut out, user).overdue_follow_ups += row.count;
            }
        }
        out.sort_by(|a, b| a.owner.cmp(&b.owner));
        Ok(out)
    }

    /// Stuck leads (seed 004): open leads with no phase change for at least
    /// `days` days, most days first; an indexed page.
    pub async fn report_stuck(&self, actor: &Actor, days: u32, page: &PageRequest) -> Result<Page<Lead>, Error> {
        self.leads(
            actor,
            &LeadQuery {
                open: Some(true),
                min_days_in_phase: Some(days),
                sort: LeadSort::DaysInPhase,
                descending: true,
                page: *page,
                ..LeadQuery::default()
            },
        )
        .await
    }

    /// Data quality (seed 004's daily routine): open leads, how many lack
    /// each value, and the first 20 without an expected close date and
    /// without a description. Counts and one indexed page.
    pub async fn report_data_quality(&self, actor: &Actor) -> Result<DataQuality, Error> {
        let (config, _) = self.config().await?;
        let open = LeadFilter {
            closed: Some(board::open_leads(&config)),
            visible: access::visible(actor, &config),
            ..LeadFilter::default()
        };
        let mut missing = Vec::with_capacity(LeadField::ALL.len());
        for field in LeadField::ALL {
            let filter = LeadFilter {
                missing: [field].into(),
                ..open.clone()
            };
            missing.push(MissingCount {
                field,
                count: self.store.count_leads(&filter).await?,
            });
        }
        let clarify = LeadFilter {
            missing: [LeadField::ExpectedClose, LeadField::Description].into(),
            ..open.clone()
        };
        let first = self
            .store
            .leads(&clarify, &LeadOrder::default(), &PageRequest::first(20))
            .await?;
        Ok(DataQuality {
            open: self.store.count_leads(&open).await?,
            missing,
            first_to_clarify: first.items,
        })
    }

    /// The deal pipeline's value per stage and the probability-weighted
    /// forecast, over open deals (of one pipeline, or all). One grouped count.
    pub async fn report_forecast(&self, actor: &Actor, pipeline: Option<&Code>) -> Result<Vec<ForecastRow>, Error> {
        let (config, _) = self.config().await?;
        if let Some(p) = pipeline
            && config.pipeline(p).is_none()
        {
            return Err(crate::domain::error::InputError::UnknownReference {
                kind: crate::domain::error::ReferenceKind::Pipeline,
                code: p.to_string(),
            }
            .into());
        }
        let tally = Tally::Deals(DealTally {
            filter: DealFilter {
                pipeline: pipeline.cloned(),
                status: Some(DealStatus::Open),
                visible: access::visible(actor, &config),
                ..DealFilter::default()
            },
            by: vec![DealGroup::Pipeline, DealGroup::Stage, DealGroup::Currency],
        });
        let rows = self.store.tally(&tally).await?;
        let mut out = Vec::new();
        for p in config
            .pipelines
            .iter()
            .filter(|p| pipeline.is_none_or(|c| c == &p.code))
        {
            for s in &p.stages {
                let here: Vec<_> = rows
                    .iter()
                    .filter(|r| {
                        r.key.first() == Some(&Some(p.code.to_string()))
                            && r.key.get(1) == Some(&Some(s.code.to_string()))
                    })
                    .collect();
                if here.is_empty() {
                    continue;
                }
                let (mut value, mut weighted) = (BTreeMap::new(), BTreeMap::new());
                for r in &here {
                    if let Some(Some(cur)) = r.key.get(2) {
                        *value.entry(cur.clone()).or_insert(0) += r.value;
                        *weighted.entry(cur.clone()).or_insert(0) += board::unweight(r.weighted);
                    }
                }
                out.push(ForecastRow {
                    pipeline: p.code.clone(),
                    stage: s.code.clone(),
                    deals: here.iter().map(|r| r.count).sum(),
                    value: board::revenue(&value),
                    weighted: board::revenue(&weighted),
                });
            }
        }
        Ok(out)
    }
}

/// The workload row of a user, added when missing.
fn workload_row(rows: &mut Vec<WorkloadRow>, owner: UserId) -> &mut WorkloadRow {
    let i = match rows.iter().position(|r| r.owner == owner) {
        Some(i) => i,
        None => {
            rows.push(WorkloadRow {
                owner,
                open_leads: 0,
                rotten: 0,
                overdue_follow_ups: 0,
            });
            rows.len() - 1
        }
    };
    &mut rows[i]
}
