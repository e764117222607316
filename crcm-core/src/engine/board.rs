//! The board (seed 004's kanban): per account type, one column per
//! non-closing phase, in order, with its count, expected revenue per currency,
//! rotten count and first cards; and the deal board per pipeline.
//!
//! Counts and sums come from the cells a backend maintains in the same
//! transaction as the leads ([`crate::store::Store::board_cells`]), or, when
//! the board is filtered beyond its owner, from one grouped count
//! ([`crate::store::Store::tally`]); cards and rotten counts are indexed
//! selects. No lead is loaded except the cards shown. Moving a card is a phase
//! change: [`crate::commands::MoveLeadPhase`].
//!
//! ```
//! # use crcm_core::prelude::*;
//! # use crcm_core::engine::board::BoardQuery;
//! # use crcm_core::code;
//! # async fn run(engine: &Engine) -> Result<(), crcm_core::Error> {
//! let anna = Actor::new(crcm_core::user_id!("anna"), Role::SalesPerson);
//! let board = engine.board(&anna, &BoardQuery::new(code!("b2b"))).await?;
//! for column in &board.columns {
//!     println!("{} ({} leads, {} rotten)", column.name, column.count, column.rotten);
//!     for card in &column.cards {
//!         println!("  #{} {} ({} days{})", card.number, card.name, card.days_in_phase,
//!             if card.rotten { ", rotten" } else { "" });
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::config::{Config, PhaseRef, PhaseType, StageKind};
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::ids::{Code, LeadId, UserId};
use crate::domain::lead::{Lead, LeadStatus};
use crate::domain::limits;
use crate::domain::money::{Currency, Money, MoneySum};
use crate::engine::Engine;
use crate::engine::query::LeadQuery;
use crate::rules::access::{self, Actor};
use crate::rules::error::Error;
use crate::store::StoreExt;
use crate::store::query::{Closed, Cursor, DealFilter, LeadFilter, PageRequest, PhaseCutoffs, Visible};
use crate::store::tally::{BoardCell, DealGroup, DealTally, LeadGroup, LeadTally, Tally};

/// Which board to draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// The account type whose phases are the columns.
    pub account_type: Code,
    /// Only this owner's leads ("My leads").
    #[serde(default)]
    pub owner: Option<UserId>,
    /// Further filters (answered by a grouped count rather than the
    /// maintained cells).
    #[serde(default)]
    pub filter: LeadFilter,
    /// Cards per column (lowest lead numbers first), at most 100.
    #[serde(default = "default_cards")]
    pub cards: usize,
}

fn default_cards() -> usize {
    5
}

impl BoardQuery {
    /// The board of an account type, 5 cards per column.
    pub fn new(account_type: Code) -> Self {
        Self {
            account_type,
            owner: None,
            filter: LeadFilter::default(),
            cards: default_cards(),
        }
    }
}

/// A lead on the board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BoardCard {
    /// The lead.
    pub lead: LeadId,
    /// Its number.
    pub number: u64,
    /// Its display name.
    pub name: String,
    /// Its company.
    pub company: String,
    /// Its owner.
    pub owner: UserId,
    /// Its status (new, contacted or qualified: closed leads are off the board).
    pub status: LeadStatus,
    /// Its priority.
    pub priority: Option<Code>,
    /// Its expected revenue.
    pub expected_revenue: Option<Money>,
    /// Whole days in the current phase.
    pub days_in_phase: i64,
    /// Longer in the phase than the phase's `rot_after_days`.
    pub rotten: bool,
}

/// One column: a non-closing phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BoardColumn {
    /// The phase.
    pub phase: PhaseRef,
    /// Its description (the column title).
    pub name: String,
    /// Open leads in the phase.
    pub count: u64,
    /// Their expected revenue, one sum per currency (by currency code).
    pub revenue: Vec<MoneySum>,
    /// How many of them are rotten.
    pub rotten: u64,
    /// The first cards.
    pub cards: Vec<BoardCard>,
    /// Where the next cards start, when there are more: send `list_leads`
    /// with [`BoardColumn::query`] and this cursor as its `page.after`.
    pub more: Option<Cursor>,
    /// The column as a lead list (its open leads in the phase, by number):
    /// the query its `more` cursor belongs to.
    pub query: LeadQuery,
}

/// The board of an account type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Board {
    /// The account type.
    pub account_type: Code,
    /// Its non-closing phases, in order.
    pub columns: Vec<BoardColumn>,
    /// When it was drawn (days in phase and rotting are as of then).
    pub at: DateTime<Utc>,
}

/// The store-level filter of one column's leads under `config`: page
/// further through a column with it, from the column's `more` cursor
/// ([`crate::store::StoreExt::leads`], number order).
pub fn column_filter(q: &BoardQuery, config: &Config, phase: &PhaseRef) -> LeadFilter {
    let mut f = q.filter.clone();
    f.account_type = Some(q.account_type.clone());
    f.phase = Some(phase.clone());
    if q.owner.is_some() {
        f.owner = q.owner.clone();
    }
    f.closed = Some(open_leads(config));
    f
}

/// "Open": not closed by status nor in a closing phase.
pub fn open_leads(config: &Config) -> Closed {
    Closed {
        closing_phases: config
            .phases
            .iter()
            .filter(|p| p.phase_type == PhaseType::Closing)
            .map(|p| p.reference())
            .collect(),
        closed: false,
    }
}

/// Sums per currency, by currency code.
pub(crate) fn revenue(sums: &BTreeMap<String, i128>) -> Vec<MoneySum> {
    sums.iter()
        .filter_map(|(c, v)| Currency::new(c).ok().map(|currency| MoneySum { minor: *v, currency }))
        .collect()
}

/// Counts and revenue per phase from the maintained cells.
pub(crate) fn from_cells(
    cells: &[BoardCell],
    owner: Option<&UserId>,
) -> BTreeMap<PhaseRef, (u64, BTreeMap<String, i128>)> {
    let mut out: BTreeMap<PhaseRef, (u64, BTreeMap<String, i128>)> = BTreeMap::new();
    for c in cells {
        let Some(phase) = &c.phase else { continue };
        if c.status.is_closed() || owner.is_some_and(|o| o != &c.owner) {
            continue;
        }
        let e = out.entry(phase.clone()).or_default();
        e.0 += c.count;
        if let Some(cur) = &c.currency {
            *e.1.entry(cur.clone()).or_default() += c.value;
        }
    }
    out
}

/// The lead tally that replaces the cells when the board has extra filters.
pub(crate) fn filtered_tally(q: &BoardQuery, config: &Config) -> Tally {
    let mut filter = q.filter.clone();
    filter.account_type = Some(q.account_type.clone());
    if q.owner.is_some() {
        filter.owner = q.owner.clone();
    }
    filter.closed = Some(open_leads(config));
    Tally::Leads(LeadTally {
        filter,
        by: vec![LeadGroup::Phase, LeadGroup::Currency],
    })
}

/// The rotten cut-off of a phase at `now`, if it rots: a lead of the phase
/// is rotten when it entered the phase at or before the cut-off.
pub fn rot_cutoff(config: &Config, phase: &PhaseRef, now: DateTime<Utc>) -> Option<PhaseCutoffs> {
    let days = config.phase(phase)?.rot_after_days?;
    Some(PhaseCutoffs {
        cutoffs: [(phase.clone(), limits::days_before(now, i64::from(days) + 1))].into(),
        past: true,
    })
}

/// A card of a lead.
pub(crate) fn card(lead: &Lead, config: &Config, now: DateTime<Utc>) -> BoardCard {
    BoardCard {
        lead: lead.id,
        number: lead.number,
        name: lead.display_name(),
        company: lead.company.clone(),
        owner: lead.owner.clone(),
        status: lead.status,
        priority: lead.priority.clone(),
        expected_revenue: lead.expected_revenue,
        days_in_phase: lead.days_in_phase(now),
        rotten: lead.is_rotten(config, now),
    }
}

/// A column as a lead list: its open leads in the phase, by number, a page
/// of the board's card count.
pub(crate) fn column_query(q: &BoardQuery, phase: &PhaseRef) -> LeadQuery {
    let mut filter = q.filter.clone();
    filter.account_type = Some(q.account_type.clone());
    filter.phase = Some(phase.clone());
    if q.owner.is_some() {
        filter.owner = q.owner.clone();
    }
    LeadQuery {
        filter,
        open: Some(true),
        page: PageRequest::first(q.cards.min(100)),
        ..LeadQuery::default()
    }
}

/// One stage of a deal board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DealColumn {
    /// Stage code.
    pub stage: Code,
    /// Stage name.
    pub name: String,
    /// Open, won or lost.
    pub kind: StageKind,
    /// The stage's default probability (percent).
    pub probability: u8,
    /// Deals in the stage.
    pub count: u64,
    /// Their value, per currency.
    pub value: Vec<MoneySum>,
    /// Their probability-weighted value (each deal's value × its own
    /// probability), per currency.
    pub weighted: Vec<MoneySum>,
}

/// The deal board of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DealBoard {
    /// Pipeline code.
    pub pipeline: Code,
    /// Its stages, in order.
    pub columns: Vec<DealColumn>,
}

/// The tally behind a deal board.
pub(crate) fn deal_tally(pipeline: &Code, owner: Option<&UserId>, visible: Option<Visible>) -> Tally {
    Tally::Deals(DealTally {
        filter: DealFilter {
            pipeline: Some(pipeline.clone()),
            owner: owner.cloned(),
            visible,
            ..DealFilter::default()
        },
        by: vec![DealGroup::Stage, DealGroup::Currency],
    })
}

/// Weighted sums are kept in hundredths of a minor unit; a board shows whole
/// minor units, rounded half away from zero.
pub(crate) fn unweight(hundredths: i128) -> i128 {
    (hundredths + hundredths.signum() * 50) / 100
}

impl Engine {
    /// The board of an account type (see [`crate::engine::board`]): its non-closing phases
    /// in order, each with its open leads' count, expected revenue per
    /// currency, rotten count and first cards.
    pub async fn board(&self, actor: &Actor, query: &BoardQuery) -> Result<Board, Error> {
        let (config, _) = self.config().await?;
        if config.account_type(&query.account_type).is_none() {
            return Err(InputError::UnknownReference {
                kind: ReferenceKind::AccountType,
                code: query.account_type.to_string(),
            }
            .into());
        }
        crate::engine::query::check_references(&config, &query.filter)?;
        let now = self.now();
        // The actor's scope joins the filter: the maintained cells count
        // every lead, so a scoped board is tallied.
        let mut scoped = query.clone();
        scoped.filter.visible = access::visible(actor, &config);
        let query = &scoped;
        let phases: Vec<PhaseRef> = config
            .phases_of(&query.account_type)
            .into_iter()
            .filter(|p| p.phase_type != PhaseType::Closing)
            .map(|p| p.reference())
            .collect();
        let totals = if query.filter == LeadFilter::default() {
            let cells = self.store.board_cells(&query.account_type).await?;
            from_cells(&cells, query.owner.as_ref())
        } else {
            let mut out: BTreeMap<PhaseRef, (u64, BTreeMap<String, i128>)> = BTreeMap::new();
            for row in self.store.tally(&filtered_tally(query, &config)).await? {
                let (Some(Some(phase)), currency) = (row.key.first(), row.key.get(1)) else {
                    continue;
                };
                let Some(phase) = phase.split_once('/').and_then(|(t, c)| {
                    Some(PhaseRef {
                        account_type: Code::new(t).ok()?,
                        code: Code::new(c).ok()?,
                    })
                }) else {
                    continue;
                };
                let e = out.entry(phase).or_default();
                e.0 += row.count;
                if let Some(Some(cur)) = currency {
                    *e.1.entry(cur.clone()).or_default() += row.value;
                }
            }
            out
        };
        let mut columns = Vec::with_capacity(phases.len());
        for phase in phases {
            let filter = column_filter(query, &config, &phase);
            let column = column_query(query, &phase);
            let cards = self.leads(actor, &column).await?;
            let rotten = match rot_cutoff(&config, &phase, now) {
                Some(cutoffs) => {
                    let rotting = LeadFilter {
                        cutoffs: Some(cutoffs),
                        ..filter.clone()
                    };
                    self.store.count_leads(&rotting).await?
                }
                None => 0,
            };
            let (count, sums) = totals.get(&phase).cloned().unwrap_or_default();
            columns.push(BoardColumn {
                name: config.phase(&phase).map(|p| p.description.clone()).unwrap_or_default(),
                phase,
                count,
                revenue: revenue(&sums),
                rotten,
                cards: cards.items.iter().map(|l| card(l, &config, now)).collect(),
                more: cards.next,
                query: column,
            });
        }
        Ok(Board {
            account_type: query.account_type.clone(),
            columns,
            at: now,
        })
    }

    /// The deal board of a pipeline: its stages in order, each with the
    /// count, value and probability-weighted value of its deals, per
    /// currency; `owner` narrows it to one owner's deals.
    pub async fn deal_board(&self, actor: &Actor, pipeline: &Code, owner: Option<&UserId>) -> Result<DealBoard, Error> {
        let (config, _) = self.config().await?;
        let Some(p) = config.pipeline(pipeline) else {
            return Err(Error::Input(InputError::UnknownReference {
                kind: ReferenceKind::Pipeline,
                code: pipeline.to_string(),
            }));
        };
        let rows = self
            .store
            .tally(&deal_tally(pipeline, owner, access::visible(actor, &config)))
            .await?;
        let columns = p
            .stages
            .iter()
            .map(|s| {
                let mut count = 0;
                let (mut value, mut weighted) = (BTreeMap::new(), BTreeMap::new());
                for row in rows.iter().filter(|r| r.key.first() == Some(&Some(s.code.to_string()))) {
                    count += row.count;
                    if let Some(Some(cur)) = row.key.get(1) {
                        *value.entry(cur.clone()).or_insert(0) += row.value;
                        *weighted.entry(cur.clone()).or_insert(0) += unweight(row.weighted);
                    }
                }
                DealColumn {
                    stage: s.code.clone(),
                    name: s.name.clone(),
                    kind: s.kind,
                    probability: s.probability,
                    count,
                    value: revenue(&value),
                    weighted: revenue(&weighted),
                }
            })
            .collect();
        Ok(DealBoard {
            pipeline: pipeline.clone(),
            columns,
        })
    }
}
