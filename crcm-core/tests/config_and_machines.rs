//! Pure tests of reference-data validation and of the transition tables.
#![cfg(feature = "testing")]

use crcm_core::domain::config::{ConfigItem, Outcome, PhaseType, StageKind, UnphasedAccountTypes};
use crcm_core::domain::deal::DealStatus;
use crcm_core::rules::machine::{DealAction, LeadAction, deal_transition, lead_transition, manual_status_action};
use crcm_core::rules::machine::{DealError, LeadError};
use crcm_core::testing::fixture_config;
use crcm_core::{Code, LeadStatus};

fn code(s: &str) -> Code {
    Code::new(s).expect("valid code")
}

#[test]
fn the_fixture_and_the_defaults_are_valid() {
    assert_eq!(fixture_config().problems(), vec![]);
    let defaults = crcm_core::Config::default_with("NL", crcm_core::Currency::new("EUR").expect("EUR"));
    assert_eq!(defaults.problems(), vec![]);
    // Seed 002's priorities and sources are the defaults.
    let priorities: Vec<&str> = defaults.priorities.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(priorities, ["Urgent", "High", "Medium", "Low", "None"]);
    assert_eq!(defaults.sources.len(), 10);
    // Seed 000's closing reasons.
    let reasons: Vec<(&str, Outcome)> = defaults
        .closing_reasons
        .iter()
        .map(|r| (r.label.as_str(), r.outcome))
        .collect();
    assert_eq!(
        reasons,
        [
            ("Won", Outcome::Won),
            ("Lost", Outcome::Lost),
            ("Competitor", Outcome::Lost)
        ]
    );
}

/// Seed 000: "Use one Qualification / Initial phase at the start ... Always
/// include at least one Closing phase"; "Use a unique Code"; "Use Order number
/// for the funnel sequence". Every problem is reported at once.
#[test]
fn phase_rules_report_every_problem_at_once() {
    let mut c = fixture_config();
    // b2b: a second initial phase, a duplicate order number, a duplicate code.
    let mut second = c.phases[1].clone();
    second.phase_type = PhaseType::Initial;
    second.code = code("CALL2");
    second.order = 10;
    c.phases.push(second);
    let mut dup = c.phases[2].clone();
    dup.order = 77;
    c.phases.push(dup);
    // b2c: no closing phase left.
    c.phases
        .retain(|p| !(p.account_type.as_str() == "b2c" && p.phase_type == PhaseType::Closing));
    // A phase of an unknown account type, and an outcome on a regular phase.
    let mut stray = c.phases[0].clone();
    stray.account_type = code("ghost");
    c.phases.push(stray);
    c.phases[2].outcome = Some(Outcome::Won);
    let problems: Vec<String> = c.problems().iter().map(ToString::to_string).collect();
    let expect = [
        "phases[ghost/CALL]: unknown account type ghost",
        "phases[b2b/QUOTE]: only a closing phase can have an outcome",
        "account_types[b2b]: phase code QUOTE is used twice",
        "account_types[b2b]: order number 10 is used twice",
        "account_types[b2b]: needs exactly one initial phase, has 2",
        "account_types[b2b]: 2 closing phases have outcome Won; at most one may",
        "account_types[b2c]: needs at least one closing phase",
    ];
    for e in expect {
        assert!(problems.iter().any(|p| p == e), "missing {e:?} in {problems:#?}");
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

#[test]
fn pipeline_and_reference_rules() {
    let mut c = fixture_config();
    c.pipelines[1].default = true;
    c.pipelines[0].stages[0].kind = StageKind::Won;
    c.pipelines[0].stages[4].probability = 5;
    c.pipelines[1].stages.retain(|s| s.kind != StageKind::Lost);
    c.tags[0].color = "blue".into();
    c.lost_reasons.push(c.lost_reasons[0].clone());
    c.settings.default_phone_region = "XX".into();
    let problems: Vec<String> = c.problems().iter().map(ToString::to_string).collect();
    let expect = [
        "settings.default_phone_region: unknown region \"XX\"",
        "lost_reasons[no_budget]: duplicate code",
        "tags[exhibition]: colour \"blue\" is not #RRGGBB",
        "pipelines: exactly one pipeline must be the default, found 2",
        "pipelines[sales]: stage prospecting has probability 10: open 0-100, won 100, lost 0",
        "pipelines[sales]: stage lost has probability 5: open 0-100, won 100, lost 0",
        "pipelines[sales]: the first stage must be an open stage (Qualify creates deals there)",
        "pipelines[renewals]: needs at least one Lost stage",
    ];
    for e in expect {
        assert!(problems.iter().any(|p| p == e), "missing {e:?} in {problems:#?}");
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

#[test]
fn removed_items_list_what_a_change_drops() {
    let old = fixture_config();
    let mut new = old.clone();
    new.phases.retain(|p| p.code.as_str() != "MEETING");
    new.phases
        .iter_mut()
        .filter(|p| p.code.as_str() == "QUOTE")
        .for_each(|p| p.phase_type = PhaseType::Closing);
    new.pipelines[0].stages.retain(|s| s.code.as_str() != "invoiced");
    new.pipelines.remove(1);
    new.tags.clear();
    let removed: Vec<String> = old.removed_items(&new).iter().map(ToString::to_string).collect();
    assert_eq!(
        removed,
        [
            "phase b2b/MEETING",
            "phase b2b/QUOTE",
            "stage sales/invoiced",
            "pipeline renewals",
            "tag exhibition",
            "tag follow-up"
        ]
    );
    assert!(old.removed_items(&old).is_empty());
    let _ = ConfigItem::Tag { code: code("x") };
}

/// Seed 003: "if a type has no status list configured, then (depending on
/// settings) all statuses can be allowed."
#[test]
fn unphased_account_types_depend_on_the_setting() {
    let mut c = fixture_config();
    assert!(c.allowed_phases(&code("partner")).is_empty());
    c.settings.unphased_account_types = UnphasedAccountTypes::AllowAllPhases;
    assert_eq!(c.allowed_phases(&code("partner")).len(), c.phases.len());
    assert_eq!(
        c.allowed_phases(&code("b2c")).len(),
        2,
        "a type with phases keeps its own"
    );
    assert!(c.initial_phase(&code("partner")).is_none());
}

#[test]
fn lifecycle_table() {
    use LeadAction as A;
    use LeadStatus as S;
    let ok = |s, a| lead_transition(1, s, a, None).ok();
    assert_eq!(ok(S::New, A::SetContacted), Some(S::Contacted));
    assert_eq!(ok(S::Contacted, A::SetNew), Some(S::New));
    assert_eq!(ok(S::Qualified, A::SetNew), None);
    assert_eq!(ok(S::Contacted, A::Qualify), Some(S::Qualified));
    assert_eq!(ok(S::Qualified, A::Convert), Some(S::Converted));
    assert_eq!(ok(S::New, A::Convert), None, "no deal, no conversion");
    assert_eq!(ok(S::Converted, A::Unconvert), Some(S::Qualified));
    assert_eq!(ok(S::Qualified, A::Disqualify), Some(S::Disqualified));
    assert_eq!(ok(S::New, A::Merge), Some(S::Merged));
    assert_eq!(ok(S::Qualified, A::Merge), None);
    assert_eq!(
        lead_transition(1, S::Disqualified, A::Reopen, Some(S::Qualified)).ok(),
        Some(S::Qualified)
    );
    assert_eq!(
        lead_transition(1, S::Disqualified, A::Reopen, None).ok(),
        Some(S::Contacted)
    );
    for closed in [S::Converted, S::Disqualified, S::Merged] {
        assert!(
            matches!(
                lead_transition(7, closed, A::Qualify, None),
                Err(LeadError::Closed { number: 7, .. })
            ),
            "{closed}"
        );
        assert!(
            matches!(
                lead_transition(7, closed, A::Merge, None),
                Err(LeadError::Closed { .. })
            ),
            "{closed}"
        );
    }
    for s in [S::Qualified, S::Converted, S::Disqualified, S::Merged] {
        assert!(matches!(manual_status_action(s), Err(LeadError::StatusRequiresAction { status, .. }) if status == s));
    }
}

#[test]
fn deal_table() {
    use DealAction as A;
    use DealStatus as S;
    let stage = code("x");
    let ok = |s, a| deal_transition(s, a, &stage).ok();
    assert_eq!(ok(S::Open, A::MoveTo(StageKind::Open)), Some(S::Open));
    assert_eq!(ok(S::Open, A::MoveTo(StageKind::Won)), Some(S::Won));
    assert_eq!(
        ok(S::Won, A::MoveTo(StageKind::Won)),
        Some(S::Won),
        "won to won stays won"
    );
    assert_eq!(ok(S::Won, A::MoveTo(StageKind::Open)), None, "reopen explicitly");
    assert!(matches!(
        deal_transition(S::Open, A::MoveTo(StageKind::Lost), &stage),
        Err(DealError::LostNeedsReason { .. })
    ));
    assert_eq!(ok(S::Open, A::Win), Some(S::Won));
    assert_eq!(ok(S::Lost, A::Win), None);
    assert_eq!(ok(S::Open, A::Lose), Some(S::Lost));
    assert_eq!(ok(S::Won, A::Lose), None);
    assert_eq!(ok(S::Lost, A::Reopen), Some(S::Open));
    assert_eq!(ok(S::Open, A::Reopen), None);
}
