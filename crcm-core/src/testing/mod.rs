//! The public testing kit (feature `testing`): fixtures, proptest strategies,
//! the reference model of the three state machines, and the backend
//! conformance suite, in two parts:
//!
//! - [`contract`]: the storage contract, the cases whose outcome rests on
//!   what a backend stores and finds; every backend runs every case;
//! - [`conformance`]: the domain scenarios, told as stories over the
//!   engine; a backend runs a smoke subset, the in-memory store all of them.
//!
//! A backend crate runs its part with one macro:
//!
//! ```ignore
//! struct MyFactory;
//! #[async_trait::async_trait]
//! impl crcm_core::testing::StoreFactory for MyFactory { /* create, reopen */ }
//! crcm_core::conformance_tests!(MyFactory);
//! ```

pub mod api;
pub mod conformance;
pub mod contract;
pub mod extremes;
pub mod fuzz;
pub mod imports;
pub mod model;
pub mod permissions;
pub mod queries;
pub mod scale;
pub mod strategies;
pub mod visibility;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::config::{
    AccountType, ClosingReason, Config, CustomFieldDef, CustomFieldKind, LostReason, Outcome, Phase, PhaseRef,
    PhaseType, Pipeline, Stage, StageKind, Tag,
};
use crate::domain::ids::{Code, UserId};
use crate::domain::lead::Lead;
use crate::domain::money::Currency;
use crate::engine::Engine;
use crate::engine::commands;
use crate::engine::query::LeadQuery;
use crate::rules::access::{Actor, Role};
use crate::rules::error::Error;
use crate::store::error::StoreError;
use crate::store::memory::MemoryStore;
use crate::store::query::MAX_PAGE;
use crate::store::{LeadFilter, Store};

/// Makes stores for the conformance suite.
#[async_trait]
pub trait StoreFactory: Send + Sync + 'static {
    /// A fresh, empty store of this backend.
    async fn create(&self) -> Result<Arc<dyn Store>, StoreError>;

    /// Closes `store` and opens it again from where it keeps its data.
    /// `Ok(None)`: the backend is not persistent (the reopen case then says so
    /// and checks nothing).
    async fn reopen(&self, store: Arc<dyn Store>) -> Result<Option<Arc<dyn Store>>, StoreError> {
        drop(store);
        Ok(None)
    }

    /// Why this backend cannot be tested here (e.g. its server URL is not set),
    /// or `None` when it can. Cases then print the reason and pass, except
    /// under `CI=true`, where they fail: CI must not skip a backend silently.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// The backend's own consistency check of the stores this factory
    /// created (indexes and maintained figures against the records): every
    /// problem found. The fuzz run calls it; the default checks nothing.
    async fn verify(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// How many cases the state-machine property test runs when
    /// `PROPTEST_CASES` is not set.
    fn state_machine_cases(&self) -> u32 {
        2000
    }
}

/// The in-memory store's factory (the suite's self-test).
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryFactory;

#[async_trait]
impl StoreFactory for MemoryFactory {
    async fn create(&self) -> Result<Arc<dyn Store>, StoreError> {
        Ok(Arc::new(MemoryStore::new()))
    }
}

fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("fixture code {s:?}: {e}"))
}

fn user(s: &str) -> UserId {
    UserId::new(s).unwrap_or_else(|e| panic!("fixture user {s:?}: {e}"))
}

/// A phase reference from two codes.
pub fn phase(account_type: &str, code_: &str) -> PhaseRef {
    PhaseRef {
        account_type: code(account_type),
        code: code(code_),
    }
}

/// Ann, a sales person.
pub fn ann() -> Actor {
    Actor::new(user("ann"), Role::SalesPerson)
}

/// Bob, another sales person.
pub fn bob() -> Actor {
    Actor::new(user("bob"), Role::SalesPerson)
}

/// Maria, a manager.
pub fn maria() -> Actor {
    Actor::new(user("maria"), Role::Manager)
}

/// Root, an admin.
pub fn root() -> Actor {
    Actor::new(user("root"), Role::Admin)
}

/// The fixture configuration used by the suite and the model:
///
/// - account type `b2b` with the funnel of seed 000 plus a meeting:
///   `CALL` (initial) → `MEETING` (regular, rots after 14 days) → `QUOTE`
///   (regular) → `WON` (closing, outcome won) / `LOST` (closing, outcome lost);
/// - account type `b2c`: `INTRO` (initial) → `CLOSED` (closing, no outcome);
/// - account type `partner` with no phases (and the setting "no phases");
/// - closing reasons won / lost / competitor / other (other needs a note);
/// - lost reasons no_budget / no_fit / competitor / unreachable / other (needs a note);
/// - the default `sales` pipeline: prospecting (10) → proposal (40) → won,
///   invoiced (both won) / lost; a second `renewals` pipeline.
pub fn fixture_config() -> Config {
    let usd = Currency::new("USD").unwrap_or_else(|e| panic!("{e}"));
    let mut c = Config::default_with("US", usd);
    c.account_types = vec![
        AccountType {
            code: code("b2b"),
            name: "Business".into(),
        },
        AccountType {
            code: code("b2c"),
            name: "Private".into(),
        },
        AccountType {
            code: code("partner"),
            name: "Partner".into(),
        },
    ];
    let p = |at: &str, c_: &str, d: &str, t, order, rot, outcome| Phase {
        account_type: code(at),
        code: code(c_),
        description: d.into(),
        phase_type: t,
        order,
        rot_after_days: rot,
        outcome,
    };
    c.phases = vec![
        p("b2b", "CALL", "Call appointment", PhaseType::Initial, 10, None, None),
        p("b2b", "MEETING", "Meeting", PhaseType::Regular, 20, Some(14), None),
        p("b2b", "QUOTE", "Send Quote", PhaseType::Regular, 30, None, None),
        p(
            "b2b",
            "WON",
            "Closed - won",
            PhaseType::Closing,
            90,
            None,
            Some(Outcome::Won),
        ),
        p(
            "b2b",
            "LOST",
            "Closed - lost",
            PhaseType::Closing,
            91,
            None,
            Some(Outcome::Lost),
        ),
        p("b2c", "INTRO", "Introduction", PhaseType::Initial, 10, None, None),
        p("b2c", "CLOSED", "Closed", PhaseType::Closing, 90, None, None),
    ];
    c.closing_reasons.push(ClosingReason {
        code: code("other"),
        label: "Other".into(),
        outcome: Outcome::Lost,
        requires_note: true,
    });
    c.lost_reasons = vec![
        LostReason {
            code: code("no_budget"),
            label: "No budget".into(),
            requires_note: false,
        },
        LostReason {
            code: code("no_fit"),
            label: "Not a fit".into(),
            requires_note: false,
        },
        LostReason {
            code: code("competitor"),
            label: "Went with a competitor".into(),
            requires_note: false,
        },
        LostReason {
            code: code("other"),
            label: "Other".into(),
            requires_note: true,
        },
    ];
    c.tags = vec![
        Tag {
            code: code("exhibition"),
            label: "Exhibition".into(),
            color: "#1E88E5".into(),
        },
        Tag {
            code: code("follow-up"),
            label: "Follow-up".into(),
            color: "#8E24AA".into(),
        },
    ];
    c.custom_fields = vec![
        CustomFieldDef {
            name: code("budget_known"),
            label: "Budget known".into(),
            kind: CustomFieldKind::Bool,
            required: false,
        },
        CustomFieldDef {
            name: code("segment"),
            label: "Segment".into(),
            kind: CustomFieldKind::Choice {
                options: vec!["smb".into(), "enterprise".into()],
            },
            required: false,
        },
    ];
    let s = |c_: &str, n: &str, kind, probability| Stage {
        code: code(c_),
        name: n.into(),
        kind,
        probability,
    };
    c.pipelines = vec![
        Pipeline {
            code: code("sales"),
            name: "Sales".into(),
            default: true,
            stages: vec![
                s("prospecting", "Prospecting", StageKind::Open, 10),
                s("proposal", "Proposal", StageKind::Open, 40),
                s("won", "Won", StageKind::Won, 100),
                s("invoiced", "Invoiced", StageKind::Won, 100),
                s("lost", "Lost", StageKind::Lost, 0),
            ],
        },
        Pipeline {
            code: code("renewals"),
            name: "Renewals".into(),
            default: false,
            stages: vec![
                s("renewal_open", "Renewal", StageKind::Open, 50),
                s("renewal_won", "Renewed", StageKind::Won, 100),
                s("renewal_lost", "Churned", StageKind::Lost, 0),
            ],
        },
    ];
    c
}

/// An engine over a fresh store of `factory`, configured with [`fixture_config`].
pub async fn fixture_engine(factory: &dyn StoreFactory) -> Engine {
    let store = factory
        .create()
        .await
        .unwrap_or_else(|e| panic!("the factory could not create a store: {e}"));
    configured(store).await
}

/// An engine over `store`, configured with [`fixture_config`].
pub async fn configured(store: Arc<dyn Store>) -> Engine {
    let engine = Engine::open(store).await.unwrap_or_else(|e| panic!("open: {e}"));
    engine
        .run(
            &maria(),
            commands::SetConfig {
                config: fixture_config(),
                expected_version: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the fixture configuration must be accepted: {e}"));
    engine
}

/// Whether a case may run: prints a loud skip notice and returns false when
/// the backend is unavailable outside CI; panics when it is unavailable under CI.
pub fn available(factory: &dyn StoreFactory) -> bool {
    let Some(reason) = factory.unavailable() else {
        return true;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and the backend is unavailable: {reason}");
    }
    eprintln!("SKIPPED (backend unavailable): {reason}");
    false
}

/// Runs one async conformance case on a fresh multi-threaded runtime.
pub fn run<F, Fut>(factory: Arc<dyn StoreFactory>, case: F)
where
    F: FnOnce(Arc<dyn StoreFactory>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !available(&*factory) {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    rt.block_on(case(factory));
}

/// Checks that the part of the file at `path` between the lines `begin` and
/// `end` is `content` (a table generated from code, e.g. in README). With
/// `CRCM_BLESS=1` in the environment it rewrites that part instead. Panics
/// with both versions when they differ, or when a marker is missing.
pub fn generated_section(path: &str, begin: &str, end: &str, content: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let start = text
        .find(begin)
        .unwrap_or_else(|| panic!("{path} has no line {begin:?}"))
        + begin.len();
    let stop = start
        + text[start..]
            .find(end)
            .unwrap_or_else(|| panic!("{path} has no line {end:?}"));
    if text[start..stop] == *content {
        return;
    }
    if std::env::var("CRCM_BLESS").is_ok_and(|v| v == "1") {
        let updated = format!("{}{content}{}", &text[..start], &text[stop..]);
        std::fs::write(path, updated).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    panic!(
        "{path}: the generated part differs from the code; run with CRCM_BLESS=1 to rewrite it.\n\
         file:\n{}\ncode:\n{content}",
        &text[start..stop]
    );
}

/// Every lead a filter matches, by number, paging through the engine's lead
/// list: for tests, whose stores are small.
#[async_trait]
pub trait AllLeads {
    /// Every matching lead, by number.
    async fn lead_list(&self, filter: &LeadFilter) -> Result<Vec<Lead>, Error>;
}

#[async_trait]
impl AllLeads for Engine {
    async fn lead_list(&self, filter: &LeadFilter) -> Result<Vec<Lead>, Error> {
        let mut query = LeadQuery {
            filter: filter.clone(),
            ..Default::default()
        };
        query.page.limit = MAX_PAGE;
        let mut out = Vec::new();
        loop {
            let page = self.leads(&crate::testing::root(), &query).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => query.page.after = Some(next),
                None => return Ok(out),
            }
        }
    }
}

/// While it lives, new ids on this thread come from a counter (valid UUID
/// v7s, in creation order) instead of the clock and randomness, so a case's
/// JSON is the same on every run and every backend. Engine calls awaited on
/// this thread (as [`run`] does) get them.
#[must_use = "the script stops when the guard is dropped"]
pub struct ScriptedIds(());

impl ScriptedIds {
    /// Starts the script at `first`.
    pub fn start(first: u64) -> Self {
        crate::domain::ids::scripted::set(Some(first));
        Self(())
    }
}

impl Drop for ScriptedIds {
    fn drop(&mut self) {
        crate::domain::ids::scripted::set(None);
    }
}

/// The JSON `type` names of every variant of a `"type"`-tagged enum, as serde
/// lists them when it meets an unknown one: a test that must cover every
/// variant (a matrix row, a wire sample) compares its list with this one.
pub fn tagged_variants<T: serde::de::DeserializeOwned>() -> std::collections::BTreeSet<String> {
    let err = serde_json::from_str::<T>(r#"{"type": "?"}"#)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let listed = err
        .split_once("expected one of ")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("serde's error lists the variants: {err}"));
    listed
        .split(',')
        .map(|v| v.trim().trim_matches('`'))
        .map(|v| v.split('`').next().unwrap_or(v).to_owned())
        .collect()
}
