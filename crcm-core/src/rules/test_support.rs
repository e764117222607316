//! Small builders for the rule modules' unit tests.

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::config::Config;
use crate::domain::ids::UserId;
use crate::domain::input::NewLead;
use crate::domain::lead::{Lead, LeadStatus};
use crate::domain::money::Currency;
use crate::rules::Ctx;
use crate::rules::access::{Actor, Role};

pub(crate) fn config() -> Config {
    let usd = Currency::new("USD").unwrap_or_else(|e| panic!("{e}"));
    Config::default_with("US", usd)
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
