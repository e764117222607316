//! Small builders for the rule modules' unit tests.

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::config::{Config, Outcome, Phase, PhaseRef, PhaseType};
use crate::domain::ids::{Code, UserId};
use crate::domain::input::NewLead;
use crate::domain::lead::{Lead, LeadStatus};
use crate::domain::money::Currency;
use crate::rules::Ctx;
use crate::rules::access::{Actor, Role};

pub(crate) fn config() -> Config {
    let usd = Currency::new("USD").unwrap_or_else(|e| panic!("{e}"));
    Config::default_with("US", usd)
}

pub(crate) fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

/// The default configuration with phases for its account type: NEW
/// (initial), WORK (regular), WON and LOST (closing, with those outcomes).
pub(crate) fn phased_config() -> Config {
    let mut c = config();
    let phase = |c_: &str, order, phase_type, outcome| Phase {
        account_type: code("default"),
        code: code(c_),
        description: c_.to_owned(),
        phase_type,
        order,
        rot_after_days: None,
        outcome,
    };
    c.phases = vec![
        phase("NEW", 10, PhaseType::Initial, None),
        phase("WORK", 20, PhaseType::Regular, None),
        phase("WON", 30, PhaseType::Closing, Some(Outcome::Won)),
        phase("LOST", 40, PhaseType::Closing, Some(Outcome::Lost)),
    ];
    c
}

pub(crate) fn phase(code_: &str) -> PhaseRef {
    PhaseRef {
        account_type: code("default"),
        code: code(code_),
    }
}

pub(crate) fn ann() -> Actor {
    actor("ann", Role::SalesPerson)
}

pub(crate) fn bob() -> Actor {
    actor("bob", Role::SalesPerson)
}

pub(crate) fn maria() -> Actor {
    actor("maria", Role::Manager)
}

pub(crate) fn user(name: &str) -> UserId {
    UserId::new(name).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn actor(name: &str, role: Role) -> Actor {
    Actor::new(user(name), role)
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("date"))
}

pub(crate) fn ctx<'a>(config: &'a Config, actor: &'a Actor) -> Ctx<'a> {
    Ctx {
        actor,
        config,
        now: now(),
        action: "test",
    }
}

/// A valid lead of `ann` (sales) with this number and status.
pub(crate) fn lead(config: &Config, number: u64, status: LeadStatus) -> Lead {
    let ann = actor("ann", Role::SalesPerson);
    let input = NewLead {
        company: format!("Company {number}"),
        ..NewLead::default()
    };
    let mut lead = crate::rules::new_lead(&ctx(config, &ann), &input).unwrap_or_else(|e| panic!("{e}"));
    lead.number = number;
    lead.status = status;
    lead
}
