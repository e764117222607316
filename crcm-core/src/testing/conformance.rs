//! The backend conformance suite: every behaviour crcm promises, as functions
//! over a [`StoreFactory`], so every backend runs the same checks unchanged.
//! Rule cases quote the seed sentence they enforce.
//!
//! Run it all with [`conformance_tests!`](crate::conformance_tests).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};

use super::{AllLeads, StoreFactory, ann, bob, fixture_config, fixture_engine, maria, phase, root};
use crate::domain::activity::{ActivityKind, Subject};
use crate::domain::config::PhaseRef;
use crate::domain::deal::{Deal, DealStatus};
use crate::domain::entity::EntityRef;
use crate::domain::error::InputError;
use crate::domain::event::DomainEvent;
use crate::domain::ids::{Code, LeadId};
use crate::domain::input::{CustomerChoice, DealDraft, DealPatch, NewCustomer, NewLead};
use crate::domain::lead::{DocumentKind, Lead, LeadStatus};
use crate::domain::money::{Currency, Money};
use crate::engine::Engine;
use crate::engine::commands;
use crate::engine::commands::{Command, CommandOutput};
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::rules::machine::ReasonError;
use crate::rules::machine::{DealError, LeadError, PhaseError};
use crate::store::{LeadFilter, StoreExt};

pub(crate) fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::new("USD").unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"))
}

/// A new b2b lead for `first_name` at `company`.
pub fn b2b(first_name: &str, company: &str) -> NewLead {
    NewLead {
        first_name: first_name.into(),
        last_name: "Tester".into(),
        company: company.into(),
        account_type: Some(code("b2b")),
        ..NewLead::default()
    }
}

pub(crate) async fn create(engine: &Engine, actor: &Actor, lead: NewLead) -> Lead {
    engine
        .run(actor, commands::CreateLead { lead })
        .await
        .unwrap_or_else(|e| panic!("create_lead must succeed: {e}"))
}

pub(crate) async fn exec(engine: &Engine, actor: &Actor, command: Command) -> CommandOutput {
    let name = command.name();
    engine
        .execute(actor, command)
        .await
        .unwrap_or_else(|e| panic!("{name} must succeed: {e}"))
}

/// Moves a lead to a phase (no closing reason); the move must be accepted.
pub(crate) async fn move_to(engine: &Engine, actor: &Actor, lead: LeadId, phase: PhaseRef) -> Lead {
    engine
        .run(
            actor,
            commands::MoveLeadPhase {
                lead,
                phase,
                closing_reason: None,
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) async fn refuse(engine: &Engine, actor: &Actor, command: Command) -> Error {
    let name = command.name();
    match engine.execute(actor, command).await {
        Ok(out) => panic!("{name} must be refused, but it returned {out:?}"),
        Err(e) => e,
    }
}

pub(crate) async fn qualify(
    engine: &Engine,
    actor: &Actor,
    lead: LeadId,
) -> (Lead, crate::domain::customer::Customer, Deal) {
    engine
        .run(
            actor,
            commands::QualifyLead {
                lead,
                customer: CustomerChoice::Auto,
                deal: DealDraft::default(),
            },
        )
        .await
        .map(|q| (q.lead, q.customer, q.deal))
        .unwrap_or_else(|e| panic!("qualify must succeed: {e}"))
}

/// Everything a refused command must leave as it was.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    lead: Option<Lead>,
    deals: Vec<Deal>,
    history: usize,
    events: usize,
}

/// Reads a lead, its deals, its history length and the event count.
pub async fn snapshot(engine: &Engine, lead: LeadId) -> Snapshot {
    let store = engine.store();
    Snapshot {
        lead: store.lead(lead).await.unwrap_or_else(|e| panic!("{e}")),
        deals: store.deals_of_lead(lead).await.unwrap_or_else(|e| panic!("{e}")),
        history: store
            .history(EntityRef::lead(lead))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        events: store
            .events_since(0, usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
    }
}

pub(crate) async fn assert_unchanged(engine: &Engine, before: &Snapshot, lead: LeadId, what: &str) {
    let after = snapshot(engine, lead).await;
    assert_eq!(
        &after, before,
        "a refused command ({what}) must leave the store exactly as it was"
    );
}

/// Seed 001: "New — Default on creation"; seed 000: "Every funnel starts here"
/// (the Initial phase); lead numbers are sequential.
pub async fn create_lead_starts_new_in_initial_phase(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let a = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let b = create(&engine, &ann(), b2b("Ben", "Beta")).await;
    assert_eq!(a.status, LeadStatus::New);
    assert_eq!(a.phase, Some(phase("b2b", "CALL")));
    assert_eq!(a.owner, ann().user);
    assert_eq!((a.number, b.number), (1, 2));
    assert_eq!(a.version, 1);
    let mut p = b2b("Pam", "Partner Co");
    p.account_type = Some(code("partner"));
    let partner = create(&engine, &ann(), p).await;
    assert_eq!(
        partner.phase, None,
        "an account type without phases puts leads in no phase"
    );
    let by_number = engine
        .lead_by_number(&crate::testing::root(), 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_number.id, b.id);
    assert!(matches!(
        engine.lead_by_number(&crate::testing::root(), 99).await,
        Err(Error::LeadNumberNotFound(99))
    ));
}

/// Seed 001: "The status dropdown on the lead page only offers New and
/// Contacted. The other states are reached by doing the actual work."
pub async fn only_new_and_contacted_are_set_by_hand(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let l = engine
        .run(
            &ann(),
            commands::SetLeadStatus {
                lead: lead.id,
                status: LeadStatus::Contacted,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((l.status, l.version), (LeadStatus::Contacted, 2));
    let l = engine
        .run(
            &ann(),
            commands::SetLeadStatus {
                lead: lead.id,
                status: LeadStatus::New,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.status, LeadStatus::New);
    let before = snapshot(&engine, lead.id).await;
    for status in [
        LeadStatus::Qualified,
        LeadStatus::Converted,
        LeadStatus::Disqualified,
        LeadStatus::Merged,
    ] {
        let e = refuse(
            &engine,
            &ann(),
            Command::SetLeadStatus(commands::SetLeadStatus { lead: lead.id, status }),
        )
        .await;
        assert!(
            matches!(e, Error::Lead(LeadError::StatusRequiresAction { status: s, .. }) if s == status),
            "{status}: {e}"
        );
        assert_unchanged(&engine, &before, lead.id, "set status").await;
    }
}

/// Seed 001: "Qualifying a lead ... creates a customer (if one doesn't already
/// exist) and a deal in your pipeline in a single action"; "a new deal appears
/// at the first stage of your default pipeline"; "Title (defaulted to the
/// lead's company name)".
pub async fn qualify_creates_customer_and_deal(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut input = b2b("Ada", "Acme");
    input.email = Some("Ada@Acme.example.com".into());
    input.expected_revenue = Some(usd(500_000));
    let lead = create(&engine, &ann(), input).await;
    assert!(
        engine
            .customer_candidates(&crate::testing::root(), lead.id)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    let (l, customer, deal) = qualify(&engine, &ann(), lead.id).await;
    assert_eq!(l.status, LeadStatus::Qualified);
    assert_eq!(l.customer, Some(customer.id));
    assert_eq!(customer.name, "Acme");
    assert_eq!(
        customer.email.as_ref().map(|e| e.as_str()),
        Some("ada@acme.example.com")
    );
    assert_eq!(customer.contacts.len(), 1);
    assert_eq!((deal.pipeline.as_str(), deal.stage.as_str()), ("sales", "prospecting"));
    assert_eq!(deal.title, "Acme");
    assert_eq!(
        deal.value,
        Some(usd(500_000)),
        "the deal value defaults to the lead's expected revenue"
    );
    assert_eq!((deal.status, deal.probability), (DealStatus::Open, 10));
    assert_eq!(deal.lead, Some(lead.id));
    let stored = engine
        .deals_of_lead(&crate::testing::root(), lead.id)
        .await
        .unwrap_or_default();
    assert_eq!(stored, vec![deal.clone()]);
    let events: Vec<DomainEvent> = engine
        .events_since(&crate::testing::root(), 0, 100)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(events.contains(&DomainEvent::LeadQualified {
        lead: lead.id,
        customer: customer.id,
        customer_created: true,
        deal: deal.id,
    }));
    // Qualified only once.
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(
        &engine,
        &ann(),
        Command::QualifyLead(commands::QualifyLead {
            lead: lead.id,
            customer: CustomerChoice::Create,
            deal: DealDraft::default(),
        }),
    )
    .await;
    assert!(
        matches!(
            e,
            Error::Lead(LeadError::NotAllowed {
                status: LeadStatus::Qualified,
                ..
            })
        ),
        "{e}"
    );
    assert_unchanged(&engine, &before, lead.id, "second qualify").await;
}

/// Seed 001: "the system checks for existing customers that match the lead's
/// phone or email. If matches are found, choose to Link to existing customer
/// (pick one) or Create a new customer"; "If the lead is already linked to a
/// customer, this step is skipped."
pub async fn qualify_with_matching_customer_asks_to_choose(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let customer = match exec(
        &engine,
        &bob(),
        Command::CreateCustomer(commands::CreateCustomer {
            customer: NewCustomer {
                name: "Globex".into(),
                phone: Some("+1 212-555-0147".into()),
                ..NewCustomer::default()
            },
        }),
    )
    .await
    {
        CommandOutput::Customer { customer } => *customer,
        other => panic!("{other:?}"),
    };
    let mut input = b2b("Hank", "Globex Corp");
    input.phone = Some("(212) 555 0147".into());
    let lead = create(&engine, &ann(), input).await;
    let candidates = engine
        .customer_candidates(&crate::testing::root(), lead.id)
        .await
        .unwrap_or_default();
    assert_eq!(
        candidates.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![customer.id],
        "matched by normalized phone"
    );
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(
        &engine,
        &ann(),
        Command::QualifyLead(commands::QualifyLead {
            lead: lead.id,
            customer: CustomerChoice::Auto,
            deal: DealDraft::default(),
        }),
    )
    .await;
    assert!(
        matches!(&e, Error::Lead(LeadError::CustomerChoiceRequired { candidates, .. }) if candidates == &vec![customer.id]),
        "{e}"
    );
    assert_unchanged(&engine, &before, lead.id, "qualify without a choice").await;
    let (l, c, deal) = engine
        .run(
            &ann(),
            commands::QualifyLead {
                lead: lead.id,
                customer: CustomerChoice::Link { customer: customer.id },
                deal: DealDraft {
                    title: Some("Globex rollout".into()),
                    ..DealDraft::default()
                },
            },
        )
        .await
        .map(|q| (q.lead, q.customer, q.deal))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (l.customer, c.id, deal.customer),
        (Some(customer.id), customer.id, customer.id)
    );
    assert_eq!(deal.title, "Globex rollout");
    // A lead created for a known customer (seed 003 "Partner") skips the customer step.
    let mut known = b2b("Iris", "Globex");
    known.customer = Some(customer.id);
    let known = create(&engine, &ann(), known).await;
    let (_, c2, _) = qualify(&engine, &ann(), known.id).await;
    assert_eq!(c2.id, customer.id);
}

/// Seed 001: "Quotations always belong to a deal — you must qualify the lead first."
pub async fn quotations_need_a_deal(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let before = snapshot(&engine, lead.id).await;
    let quote = |lead| {
        Command::LinkLeadDocument(commands::LinkLeadDocument {
            lead,
            kind: DocumentKind::Quotation,
            external_id: "Q-1".into(),
        })
    };
    let e = refuse(&engine, &ann(), quote(lead.id)).await;
    assert!(
        matches!(&e, Error::Lead(LeadError::QuotationRequiresDeal { deals, .. }) if deals.is_empty()),
        "{e}"
    );
    assert!(e.to_string().contains("qualify lead 1 first"), "{e}");
    assert_unchanged(&engine, &before, lead.id, "quotation on a lead").await;
    let (_, _, deal) = qualify(&engine, &ann(), lead.id).await;
    let e = refuse(&engine, &ann(), quote(lead.id)).await;
    assert!(
        matches!(&e, Error::Lead(LeadError::QuotationRequiresDeal { deals, .. }) if deals == &vec![deal.id]),
        "{e}"
    );
    let out = exec(
        &engine,
        &ann(),
        Command::LinkDealDocument(commands::LinkDealDocument {
            deal: deal.id,
            kind: DocumentKind::Quotation,
            external_id: "Q-1".into(),
        }),
    )
    .await;
    let CommandOutput::Deal { deal: d, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(d.documents.len(), 1);
    // Orders and invoices may be linked to the lead itself (seed 003).
    let out = exec(
        &engine,
        &ann(),
        Command::LinkLeadDocument(commands::LinkLeadDocument {
            lead: lead.id,
            kind: DocumentKind::Order,
            external_id: "SO-7".into(),
        }),
    )
    .await;
    let CommandOutput::Lead { lead: l } = out else {
        panic!("{out:?}")
    };
    assert_eq!(l.documents.len(), 1);
}

/// Seed 001: "Converted — Set automatically when a linked deal is won"; winning
/// sets the close date and probability 100; moving between two won stages
/// keeps the first close date.
pub async fn winning_a_deal_converts_the_lead(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let (_, _, deal) = qualify(&engine, &ann(), lead.id).await;
    let (won, l) = engine
        .run(
            &ann(),
            commands::WinDeal {
                deal: deal.id,
                stage: None,
            },
        )
        .await
        .map(|c| (c.deal, c.lead))
        .unwrap_or_else(|e| panic!("{e}"));
    let l = l.unwrap_or_else(|| panic!("the lead must change"));
    assert_eq!(
        (won.status, won.probability, won.stage.as_str()),
        (DealStatus::Won, 100, "won")
    );
    let close = won.close_date.unwrap_or_else(|| panic!("winning sets the close date"));
    assert_eq!(l.status, LeadStatus::Converted);
    assert_eq!(
        l.phase,
        Some(phase("b2b", "WON")),
        "conversion moves to the won closing phase"
    );
    let out = exec(
        &engine,
        &ann(),
        Command::MoveDealStage(commands::MoveDealStage {
            deal: deal.id,
            stage: code("invoiced"),
        }),
    )
    .await;
    let CommandOutput::Deal { deal: d, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!((d.status, d.close_date), (DealStatus::Won, Some(close)));
    let events: Vec<DomainEvent> = engine
        .events_since(&crate::testing::root(), 0, 100)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, DomainEvent::DealWon { .. }))
            .count(),
        1
    );
    assert!(events.contains(&DomainEvent::LeadConverted {
        lead: lead.id,
        deal: deal.id
    }));
    // Converted leads are closed: no qualify, no disqualify, no phase moves.
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(
        &engine,
        &ann(),
        Command::DisqualifyLead(commands::DisqualifyLead {
            lead: lead.id,
            reason: code("no_fit"),
            note: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Lead(LeadError::Closed { .. })), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::MoveLeadPhase(commands::MoveLeadPhase {
            lead: lead.id,
            phase: phase("b2b", "QUOTE"),
            closing_reason: None,
            note: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Phase(PhaseError::LeadClosed { .. })), "{e}");
    assert_unchanged(&engine, &before, lead.id, "commands on a converted lead").await;
}

/// Seed 003: "The system saves the reason and sets the lead status that is
/// configured in settings as Lost"; seed 001: "Disqualified — Disqualify action
/// with a reason"; a reason flagged as needing a note is refused without one;
/// reopening is recorded and clears the reason (history keeps it).
pub async fn disqualify_and_reopen(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    move_to(&engine, &ann(), lead.id, phase("b2b", "QUOTE")).await;
    engine
        .run(
            &ann(),
            commands::SetLeadStatus {
                lead: lead.id,
                status: LeadStatus::Contacted,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(
        &engine,
        &ann(),
        Command::DisqualifyLead(commands::DisqualifyLead {
            lead: lead.id,
            reason: code("bogus"),
            note: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Reason(ReasonError::Unknown { .. })), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::DisqualifyLead(commands::DisqualifyLead {
            lead: lead.id,
            reason: code("other"),
            note: Some("  ".into()),
        }),
    )
    .await;
    assert!(matches!(e, Error::Reason(ReasonError::NoteRequired { .. })), "{e}");
    assert_unchanged(&engine, &before, lead.id, "disqualify without a valid reason").await;
    let l = engine
        .run(
            &ann(),
            commands::DisqualifyLead {
                lead: lead.id,
                reason: code("other"),
                note: Some("moved abroad".into()),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.status, LeadStatus::Disqualified);
    assert_eq!(
        (l.lost_reason.as_ref().map(Code::as_str), l.lost_note.as_deref()),
        (Some("other"), Some("moved abroad"))
    );
    assert_eq!(
        l.phase,
        Some(phase("b2b", "LOST")),
        "moved to the phase configured as lost"
    );
    assert!(
        engine
            .lead_list(&LeadFilter {
                statuses: Some([LeadStatus::Disqualified].into()),
                ..LeadFilter::default()
            })
            .await
            .unwrap_or_default()
            .len()
            == 1
    );
    let out = exec(
        &engine,
        &ann(),
        Command::ReopenLead(commands::ReopenLead { lead: lead.id }),
    )
    .await;
    let CommandOutput::Lead { lead: r } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (r.status, r.phase.clone()),
        (LeadStatus::Contacted, Some(phase("b2b", "QUOTE")))
    );
    assert_eq!((r.lost_reason, r.lost_note), (None, None));
    let history = engine
        .history(&crate::testing::root(), EntityRef::lead(lead.id))
        .await
        .unwrap_or_default();
    let last = history.last().unwrap_or_else(|| panic!("history"));
    assert_eq!(last.action, "reopen_lead");
    let lost = last
        .change("lost_reason")
        .unwrap_or_else(|| panic!("reopen records the cleared reason"));
    assert_eq!((lost.old.as_str(), lost.new.is_null()), (Some("other"), true));
    let e = refuse(
        &engine,
        &ann(),
        Command::ReopenLead(commands::ReopenLead { lead: lead.id }),
    )
    .await;
    assert!(matches!(e, Error::Lead(LeadError::NotAllowed { .. })), "{e}");
}

/// Closed (disqualified, converted, merged) leads are never proposed as
/// duplicates nor qualified again; merging closes the duplicate.
pub async fn closed_leads_are_not_duplicates_or_requalified(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut a = b2b("Ada", "Acme");
    a.email = Some("sales@acme.example.com".into());
    let a = create(&engine, &ann(), a.clone()).await;
    let mut b = b2b("Ben", "Acme");
    b.email = Some("SALES@acme.example.com".into());
    let b = create(&engine, &ann(), b).await;
    let mut c = b2b("Cy", "Acme");
    c.email = Some("sales@acme.example.com".into());
    let c = create(&engine, &ann(), c).await;
    let dups: Vec<u64> = engine
        .duplicates(&crate::testing::root(), a.id)
        .await
        .unwrap_or_default()
        .iter()
        .map(|l| l.number)
        .collect();
    assert_eq!(dups, vec![b.number, c.number]);
    engine
        .run(
            &ann(),
            commands::DisqualifyLead {
                lead: b.id,
                reason: code("no_fit"),
                note: None,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = exec(
        &engine,
        &ann(),
        Command::MergeLead(commands::MergeLead { lead: c.id, into: a.id }),
    )
    .await;
    let CommandOutput::Lead { lead: merged } = out else {
        panic!("{out:?}")
    };
    assert_eq!((merged.status, merged.merged_into), (LeadStatus::Merged, Some(a.id)));
    assert!(
        engine
            .duplicates(&crate::testing::root(), a.id)
            .await
            .unwrap_or_default()
            .is_empty(),
        "closed leads are never proposed"
    );
    for closed in [b.id, c.id] {
        let before = snapshot(&engine, closed).await;
        let e = refuse(
            &engine,
            &ann(),
            Command::QualifyLead(commands::QualifyLead {
                lead: closed,
                customer: CustomerChoice::Create,
                deal: DealDraft::default(),
            }),
        )
        .await;
        // The disqualified lead is closed; the merged one names the lead
        // it lives on in (one code for a merged lead, whatever the action).
        if closed == c.id {
            assert!(
                matches!(e, Error::Lead(LeadError::Merged { into: Some(into), .. }) if into == a.id),
                "{e}"
            );
        } else {
            assert!(matches!(e, Error::Lead(LeadError::Closed { .. })), "{e}");
        }
        assert_unchanged(&engine, &before, closed, "qualify a closed lead").await;
    }
    let e = refuse(
        &engine,
        &ann(),
        Command::MergeLead(commands::MergeLead { lead: a.id, into: a.id }),
    )
    .await;
    assert!(matches!(e, Error::Lead(LeadError::MergeIntoSelf)), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::MergeLead(commands::MergeLead { lead: a.id, into: b.id }),
    )
    .await;
    assert!(matches!(e, Error::Lead(LeadError::Closed { .. })), "{e}");
}

/// Seed 000: "Each lead phase belongs to one account type"; seed 003: "If the
/// selected status is not allowed for the type, the system will not let you
/// save the lead"; seed 004 FAQ: "After changing the type, select a status
/// that is allowed for that type."
pub async fn phases_belong_to_the_account_type(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let before = snapshot(&engine, lead.id).await;
    let mv = |p: PhaseRef| {
        Command::MoveLeadPhase(commands::MoveLeadPhase {
            lead: lead.id,
            phase: p,
            closing_reason: None,
            note: None,
        })
    };
    let e = refuse(&engine, &ann(), mv(phase("b2c", "INTRO"))).await;
    assert!(
        matches!(&e, Error::Phase(PhaseError::NotInAccountType { account_type, .. }) if account_type.as_str() == "b2b"),
        "{e}"
    );
    let e = refuse(&engine, &ann(), mv(phase("b2b", "NOPE"))).await;
    assert!(matches!(e, Error::Phase(PhaseError::UnknownPhase { .. })), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::ChangeAccountType(commands::ChangeAccountType {
            lead: lead.id,
            account_type: code("b2c"),
            phase: None,
        }),
    )
    .await;
    assert!(
        matches!(e, Error::Phase(PhaseError::PhaseRequiredForAccountType { .. })),
        "{e}"
    );
    let e = refuse(
        &engine,
        &ann(),
        Command::ChangeAccountType(commands::ChangeAccountType {
            lead: lead.id,
            account_type: code("b2c"),
            phase: Some(phase("b2b", "QUOTE")),
        }),
    )
    .await;
    assert!(matches!(e, Error::Phase(PhaseError::NotInAccountType { .. })), "{e}");
    assert_unchanged(&engine, &before, lead.id, "phase of another account type").await;
    let out = exec(
        &engine,
        &ann(),
        Command::ChangeAccountType(commands::ChangeAccountType {
            lead: lead.id,
            account_type: code("b2c"),
            phase: Some(phase("b2c", "INTRO")),
        }),
    )
    .await;
    let CommandOutput::Lead { lead: l } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (l.account_type.as_str(), l.phase.clone()),
        ("b2c", Some(phase("b2c", "INTRO")))
    );
    // To an account type without phases: no phase.
    let out = exec(
        &engine,
        &ann(),
        Command::ChangeAccountType(commands::ChangeAccountType {
            lead: lead.id,
            account_type: code("partner"),
            phase: None,
        }),
    )
    .await;
    let CommandOutput::Lead { lead: l } = out else {
        panic!("{out:?}")
    };
    assert_eq!(l.phase, None);
    let e = refuse(&engine, &ann(), mv(phase("b2b", "CALL"))).await;
    assert!(matches!(e, Error::Phase(PhaseError::NoPhases { .. })), "{e}");
}

/// Seed 003: "if a type has no status list configured, then (depending on
/// settings) all statuses can be allowed."
pub async fn unphased_account_types_follow_the_setting(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let (mut config, version) = engine.config().await.unwrap_or_else(|e| panic!("{e}"));
    config.settings.unphased_account_types = crate::domain::config::UnphasedAccountTypes::AllowAllPhases;
    engine
        .run(
            &maria(),
            commands::SetConfig {
                config,
                expected_version: Some(version),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut p = b2b("Pam", "Partner Co");
    p.account_type = Some(code("partner"));
    let lead = create(&engine, &ann(), p).await;
    assert_eq!(lead.phase, None, "no Initial phase of its own");
    let l = move_to(&engine, &ann(), lead.id, phase("b2c", "INTRO")).await;
    assert_eq!(l.phase, Some(phase("b2c", "INTRO")));
}

/// Seed 000: "When a lead reaches a closing phase, you can choose a closing
/// reason"; "Only a closing phase lets you record why a deal was won or lost."
pub async fn closing_reasons_only_in_closing_phases(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(
        &engine,
        &ann(),
        Command::SetClosingReason(commands::SetClosingReason {
            lead: lead.id,
            reason: code("won"),
            note: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Phase(PhaseError::NotClosingPhase { .. })), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::MoveLeadPhase(commands::MoveLeadPhase {
            lead: lead.id,
            phase: phase("b2b", "QUOTE"),
            closing_reason: Some(code("won")),
            note: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Phase(PhaseError::NotClosingPhase { .. })), "{e}");
    assert_unchanged(&engine, &before, lead.id, "closing reason outside a closing phase").await;
    let out = exec(
        &engine,
        &ann(),
        Command::MoveLeadPhase(commands::MoveLeadPhase {
            lead: lead.id,
            phase: phase("b2b", "LOST"),
            closing_reason: Some(code("competitor")),
            note: None,
        }),
    )
    .await;
    let CommandOutput::Lead { lead: l } = out else {
        panic!("{out:?}")
    };
    assert_eq!(l.closing_reason.as_ref().map(Code::as_str), Some("competitor"));
    let config = fixture_config();
    assert!(l.is_closed(&config), "a lead in a closing phase leaves the board");
    let e = refuse(
        &engine,
        &ann(),
        Command::SetClosingReason(commands::SetClosingReason {
            lead: lead.id,
            reason: code("other"),
            note: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Reason(ReasonError::NoteRequired { .. })), "{e}");
    // Leaving the closing phase clears the reason (history keeps it).
    let l = move_to(&engine, &ann(), lead.id, phase("b2b", "QUOTE")).await;
    assert_eq!(l.closing_reason, None);
}

/// Probability follows the stage (won 100, lost 0, open: the stage default
/// unless set by hand) and stays within 0-100; a lost stage needs a reason;
/// reopening clears the close date and the lost reason.
pub async fn deal_stages_probability_and_reopen(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let (_, _, deal) = qualify(&engine, &ann(), lead.id).await;
    let d = |out: CommandOutput| match out {
        CommandOutput::Deal { deal, .. } => *deal,
        other => panic!("{other:?}"),
    };
    let moved = d(exec(
        &engine,
        &ann(),
        Command::MoveDealStage(commands::MoveDealStage {
            deal: deal.id,
            stage: code("proposal"),
        }),
    )
    .await);
    assert_eq!(moved.probability, 40);
    let e = refuse(
        &engine,
        &ann(),
        Command::MoveDealStage(commands::MoveDealStage {
            deal: deal.id,
            stage: code("renewal_open"),
        }),
    )
    .await;
    assert!(matches!(e, Error::Deal(DealError::StageNotInPipeline { .. })), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::MoveDealStage(commands::MoveDealStage {
            deal: deal.id,
            stage: code("lost"),
        }),
    )
    .await;
    assert!(matches!(e, Error::Deal(DealError::LostNeedsReason { .. })), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::SetDealProbability(commands::SetDealProbability {
            deal: deal.id,
            probability: Some(101),
        }),
    )
    .await;
    assert!(
        matches!(e, Error::Input(InputError::ProbabilityOutOfRange { value: 101 })),
        "{e}"
    );
    let manual = d(exec(
        &engine,
        &ann(),
        Command::SetDealProbability(commands::SetDealProbability {
            deal: deal.id,
            probability: Some(65),
        }),
    )
    .await);
    assert_eq!((manual.probability, manual.probability_manual), (65, true));
    let kept = d(exec(
        &engine,
        &ann(),
        Command::MoveDealStage(commands::MoveDealStage {
            deal: deal.id,
            stage: code("prospecting"),
        }),
    )
    .await);
    assert_eq!(kept.probability, 65, "a probability set by hand survives stage moves");
    let e = refuse(
        &engine,
        &ann(),
        Command::LoseDeal(commands::LoseDeal {
            deal: deal.id,
            reason: code("other"),
            note: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Reason(ReasonError::NoteRequired { .. })), "{e}");
    let lost = d(exec(
        &engine,
        &ann(),
        Command::LoseDeal(commands::LoseDeal {
            deal: deal.id,
            reason: code("no_budget"),
            note: None,
        }),
    )
    .await);
    assert_eq!(
        (lost.status, lost.probability, lost.stage.as_str()),
        (DealStatus::Lost, 0, "lost")
    );
    assert!(lost.close_date.is_some());
    let e = refuse(
        &engine,
        &ann(),
        Command::SetDealProbability(commands::SetDealProbability {
            deal: deal.id,
            probability: Some(5),
        }),
    )
    .await;
    assert!(matches!(e, Error::Deal(DealError::ProbabilityFixed { .. })), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::WinDeal(commands::WinDeal {
            deal: deal.id,
            stage: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Deal(DealError::NotAllowed { .. })), "{e}");
    let reopened = d(exec(
        &engine,
        &ann(),
        Command::ReopenDeal(commands::ReopenDeal {
            deal: deal.id,
            stage: None,
        }),
    )
    .await);
    assert_eq!(
        (reopened.status, reopened.close_date, reopened.lost_reason.clone()),
        (DealStatus::Open, None, None)
    );
    assert_eq!(
        (
            reopened.stage.as_str(),
            reopened.probability,
            reopened.probability_manual
        ),
        ("prospecting", 10, false)
    );
    let updated = d(exec(
        &engine,
        &ann(),
        Command::UpdateDeal(commands::UpdateDeal {
            deal: deal.id,
            patch: DealPatch {
                value: Some(Some(usd(1_000))),
                ..DealPatch::default()
            },
        }),
    )
    .await);
    assert_eq!(updated.value, Some(usd(1_000)));
}

/// Reopening the only won deal makes a Converted lead Qualified again
/// (Converted always has a won deal).
pub async fn reopening_the_won_deal_unconverts_the_lead(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    move_to(&engine, &ann(), lead.id, phase("b2b", "MEETING")).await;
    let (_, _, deal) = qualify(&engine, &ann(), lead.id).await;
    engine
        .run(
            &ann(),
            commands::WinDeal {
                deal: deal.id,
                stage: None,
            },
        )
        .await
        .map(|c| (c.deal, c.lead))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = exec(
        &engine,
        &ann(),
        Command::ReopenDeal(commands::ReopenDeal {
            deal: deal.id,
            stage: None,
        }),
    )
    .await;
    let CommandOutput::Deal { lead: Some(l), .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (l.status, l.phase.clone()),
        (LeadStatus::Qualified, Some(phase("b2b", "MEETING")))
    );
}

/// Seed 001: a lead can have more than one deal ("Converted: linked to a
/// customer, with at least one won deal"; "if the lead already has one or
/// more deals…"). OpenDeal adds one for a qualified or converted lead; a lost
/// extra deal leaves a converted lead converted; reopening a won deal while
/// another is won keeps it converted.
pub async fn a_lead_can_have_several_deals(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let open = |lead: LeadId, pipeline: Option<&str>| {
        Command::OpenDeal(commands::OpenDeal {
            lead,
            pipeline: pipeline.map(code),
            deal: DealDraft::default(),
        })
    };
    let deal_of = |out: CommandOutput| match out {
        CommandOutput::Deal { deal, lead: None } => *deal,
        other => panic!("{other:?}"),
    };
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(&engine, &ann(), open(lead.id, None)).await;
    assert!(
        matches!(
            e,
            Error::Lead(LeadError::NotAllowed {
                status: LeadStatus::New,
                ..
            })
        ),
        "{e}"
    );
    assert_unchanged(&engine, &before, lead.id, "open a deal for a new lead").await;

    let (qualified, customer, first) = qualify(&engine, &ann(), lead.id).await;
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(&engine, &bob(), open(lead.id, None)).await;
    assert!(matches!(e, Error::Permission(_)), "{e}");
    let e = refuse(&engine, &ann(), open(lead.id, Some("nope"))).await;
    assert!(matches!(e, Error::Input(_)), "{e}");
    assert_unchanged(&engine, &before, lead.id, "open a deal refused").await;

    let second = deal_of(exec(&engine, &ann(), open(lead.id, None)).await);
    assert_eq!(
        (
            second.customer,
            second.lead,
            second.status,
            &second.pipeline,
            &second.stage
        ),
        (
            customer.id,
            Some(lead.id),
            DealStatus::Open,
            &first.pipeline,
            &first.stage
        ),
        "same customer, first stage of the default pipeline"
    );
    assert_eq!(
        engine.lead(&crate::testing::root(), lead.id).await.ok(),
        Some(qualified.clone()),
        "the lead itself does not change"
    );
    assert_eq!(
        engine
            .deals_of_lead(&crate::testing::root(), lead.id)
            .await
            .unwrap_or_default()
            .len(),
        2
    );

    // Win the first: converted. Lose the second: still converted.
    let (_, l) = engine
        .run(
            &ann(),
            commands::WinDeal {
                deal: first.id,
                stage: None,
            },
        )
        .await
        .map(|c| (c.deal, c.lead))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.map(|l| l.status), Some(LeadStatus::Converted));
    exec(
        &engine,
        &ann(),
        Command::LoseDeal(commands::LoseDeal {
            deal: second.id,
            reason: code("no_budget"),
            note: None,
        }),
    )
    .await;
    let status = |l: Option<Lead>| l.map(|l| l.status);
    assert_eq!(
        status(engine.lead(&crate::testing::root(), lead.id).await.ok()),
        Some(LeadStatus::Converted)
    );

    // A converted lead gets another deal; with two won, reopening one keeps it converted.
    let third = deal_of(exec(&engine, &maria(), open(lead.id, None)).await);
    engine
        .run(
            &ann(),
            commands::WinDeal {
                deal: third.id,
                stage: None,
            },
        )
        .await
        .map(|c| (c.deal, c.lead))
        .unwrap_or_else(|e| panic!("{e}"));
    let reopen = |deal: &Deal| {
        Command::ReopenDeal(commands::ReopenDeal {
            deal: deal.id,
            stage: None,
        })
    };
    exec(&engine, &ann(), reopen(&first)).await;
    assert_eq!(
        status(engine.lead(&crate::testing::root(), lead.id).await.ok()),
        Some(LeadStatus::Converted),
        "another deal is still won"
    );
    exec(&engine, &ann(), reopen(&third)).await;
    assert_eq!(
        status(engine.lead(&crate::testing::root(), lead.id).await.ok()),
        Some(LeadStatus::Qualified),
        "no won deal left"
    );
    let deals = engine
        .deals_of_lead(&crate::testing::root(), lead.id)
        .await
        .unwrap_or_default();
    assert_eq!(
        deals.iter().map(|d| (d.id, d.status)).collect::<Vec<_>>(),
        vec![
            (first.id, DealStatus::Open),
            (second.id, DealStatus::Lost),
            (third.id, DealStatus::Open)
        ]
    );
}

pub(crate) fn user(id: &str) -> crate::domain::ids::UserId {
    crate::domain::ids::UserId::new(id).unwrap_or_else(|e| panic!("{e}"))
}

/// Access: a sales person changes leads they own or whose record team they are
/// on; a manager also reassigns and configures; only an admin deletes.
pub async fn permissions_are_enforced(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(
        &engine,
        &bob(),
        Command::SetLeadStatus(commands::SetLeadStatus {
            lead: lead.id,
            status: LeadStatus::Contacted,
        }),
    )
    .await;
    assert!(matches!(&e, Error::Permission(p) if p.user == bob().user), "{e}");
    let e = refuse(
        &engine,
        &bob(),
        Command::ReassignLead(commands::ReassignLead {
            lead: lead.id,
            owner: bob().user,
        }),
    )
    .await;
    assert!(matches!(e, Error::Permission(_)), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::DeleteLead(commands::DeleteLead {
            lead: lead.id,
            if_version: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Permission(_)), "{e}");
    let mut for_bob = b2b("Ben", "Beta");
    for_bob.owner = Some(bob().user);
    let e = refuse(
        &engine,
        &ann(),
        Command::CreateLead(commands::CreateLead { lead: for_bob.clone() }),
    )
    .await;
    assert!(matches!(e, Error::Permission(_)), "{e}");
    let e = refuse(
        &engine,
        &ann(),
        Command::SetConfig(commands::SetConfig {
            config: fixture_config(),
            expected_version: Some(1),
        }),
    )
    .await;
    assert!(matches!(e, Error::Permission(_)), "{e}");
    assert_unchanged(&engine, &before, lead.id, "permission refusals").await;
    // The owner adds Bob to the record team; then Bob may work the lead.
    exec(
        &engine,
        &ann(),
        Command::SetLeadTeam(commands::SetLeadTeam {
            lead: lead.id,
            team: BTreeSet::from([bob().user]),
        }),
    )
    .await;
    engine
        .run(
            &bob(),
            commands::SetLeadStatus {
                lead: lead.id,
                status: LeadStatus::Contacted,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("team member: {e}"));
    let e = refuse(
        &engine,
        &bob(),
        Command::SetLeadTeam(commands::SetLeadTeam {
            lead: lead.id,
            team: BTreeSet::new(),
        }),
    )
    .await;
    assert!(matches!(e, Error::Permission(_)), "{e}");
    // A manager reassigns and creates leads for others.
    let out = exec(
        &engine,
        &maria(),
        Command::ReassignLead(commands::ReassignLead {
            lead: lead.id,
            owner: bob().user,
        }),
    )
    .await;
    let CommandOutput::Lead { lead: l } = out else {
        panic!("{out:?}")
    };
    assert_eq!(l.owner, bob().user);
    assert!(!l.team.contains(&bob().user), "the owner is not also on the team");
    let created = create(&engine, &maria(), for_bob).await;
    assert_eq!(created.owner, bob().user);
    let mine = engine
        .lead_list(&LeadFilter {
            owner: Some(bob().user),
            ..LeadFilter::default()
        })
        .await
        .unwrap_or_default();
    assert_eq!(mine.len(), 2, "My leads means owner = me");
    let CommandOutput::Deleted { number } = exec(
        &engine,
        &root(),
        Command::DeleteLead(commands::DeleteLead {
            lead: created.id,
            if_version: None,
        }),
    )
    .await
    else {
        panic!("delete")
    };
    assert_eq!(number, created.number);
    assert!(matches!(
        engine.lead(&crate::testing::root(), created.id).await,
        Err(Error::NotFound(_))
    ));
}

/// Seed 001 "Activity timeline (notes, calls, emails, meetings)" and
/// "Follow-up schedule"; time in phase and rotting are computed from the clock.
pub async fn timeline_and_rotting(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let subject = Subject::Lead(lead.id);
    exec(
        &engine,
        &ann(),
        Command::LogActivity(commands::LogActivity {
            subject,
            kind: ActivityKind::Call,
            summary: "intro call".into(),
            body: "wants 40 seats".into(),
            occurred_at: None,
        }),
    )
    .await;
    let e = refuse(
        &engine,
        &bob(),
        Command::LogActivity(commands::LogActivity {
            subject,
            kind: ActivityKind::Note,
            summary: "not my lead".into(),
            body: String::new(),
            occurred_at: None,
        }),
    )
    .await;
    assert!(matches!(e, Error::Permission(_)), "{e}");
    let due = NaiveDate::from_ymd_opt(2030, 1, 15).unwrap_or_default();
    let out = exec(
        &engine,
        &ann(),
        Command::ScheduleFollowUp(commands::ScheduleFollowUp {
            subject,
            due,
            note: "call back".into(),
            assignee: None,
        }),
    )
    .await;
    let CommandOutput::FollowUp { follow_up } = out else {
        panic!("{out:?}")
    };
    let out = exec(
        &engine,
        &ann(),
        Command::CompleteFollowUp(commands::CompleteFollowUp {
            follow_up: follow_up.id,
        }),
    )
    .await;
    let CommandOutput::FollowUp { follow_up: done } = out else {
        panic!("{out:?}")
    };
    assert!(done.done && done.done_at.is_some());
    let activities = engine
        .activities(&crate::testing::root(), subject)
        .await
        .unwrap_or_default();
    assert_eq!(
        activities.iter().map(|a| a.summary.as_str()).collect::<Vec<_>>(),
        vec!["intro call"]
    );
    assert_eq!(
        engine
            .follow_ups(&crate::testing::root(), subject)
            .await
            .unwrap_or_default()
            .len(),
        1
    );
    // Rotting: MEETING rots after 14 days.
    let l = move_to(&engine, &ann(), lead.id, phase("b2b", "MEETING")).await;
    let config = fixture_config();
    let entered = l.phase_entered_at;
    assert!(!l.is_rotten(&config, entered + Duration::days(14)));
    assert!(l.is_rotten(&config, entered + Duration::days(15)));
    assert_eq!(l.days_in_phase(entered + Duration::days(15)), 15);
}

/// Checks the domain invariants over a whole store and returns every
/// violation (empty: all hold). Used after crashes and by backends' own tests:
/// Qualified or Converted ⇒ a customer and a deal; Converted ⇒ a won deal;
/// Disqualified ⇒ a reason; a closing reason ⇒ a closing phase; a phase ⇒ one
/// allowed for the account type; history has one entry per version; the event
/// sequence is gap-free from 1.
pub async fn store_invariants(engine: &Engine) -> Vec<String> {
    let mut problems = Vec::new();
    let config = match engine.config().await {
        Ok((c, _)) => c,
        Err(e) => return vec![format!("no configuration: {e}")],
    };
    let leads = match engine.lead_list(&LeadFilter::default()).await {
        Ok(l) => l,
        Err(e) => return vec![format!("leads unreadable: {e}")],
    };
    for lead in &leads {
        let n = lead.number;
        let deals = engine
            .deals_of_lead(&crate::testing::root(), lead.id)
            .await
            .unwrap_or_default();
        if matches!(lead.status, LeadStatus::Qualified | LeadStatus::Converted) {
            let customer = match lead.customer {
                Some(c) => engine.customer(&crate::testing::root(), c).await.ok(),
                None => None,
            };
            if customer.is_none() || deals.is_empty() {
                problems.push(format!("lead {n} is {} without a customer and a deal", lead.status));
            }
        }
        if lead.status == LeadStatus::Converted && !deals.iter().any(|d| d.status == DealStatus::Won) {
            problems.push(format!("lead {n} is converted without a won deal"));
        }
        if lead.status == LeadStatus::Disqualified && lead.lost_reason.is_none() {
            problems.push(format!("lead {n} is disqualified without a reason"));
        }
        if lead.closing_reason.is_some() && !lead.in_closing_phase(&config) {
            problems.push(format!("lead {n} has a closing reason outside a closing phase"));
        }
        if let Some(p) = &lead.phase
            && !config
                .allowed_phases(&lead.account_type)
                .iter()
                .any(|x| &x.reference() == p)
        {
            problems.push(format!(
                "lead {n} is in phase {p}, not allowed for {}",
                lead.account_type
            ));
        }
        let history = engine
            .history(&crate::testing::root(), EntityRef::lead(lead.id))
            .await
            .unwrap_or_default();
        let versions: Vec<u64> = history.iter().map(|h| h.version).collect();
        if versions != (1..=lead.version).collect::<Vec<_>>() {
            problems.push(format!(
                "lead {n} at version {} has history versions {versions:?}",
                lead.version
            ));
        }
    }
    let mut cursor = 0;
    loop {
        let page = engine
            .events_since(&crate::testing::root(), cursor, 1000)
            .await
            .unwrap_or_default();
        let Some(last) = page.last().map(|e| e.seq) else { break };
        for (k, e) in page.iter().enumerate() {
            if e.seq != cursor + 1 + k as u64 {
                problems.push(format!("event sequence jumps to {} after {}", e.seq, cursor + k as u64));
            }
        }
        cursor = last;
    }
    problems
}

/// The proptest state-machine test of the three state machines, through the
/// engine, against this backend.
pub fn state_machine(factory: Arc<dyn StoreFactory>) {
    super::model::run_state_machine(factory);
}

/// The conformance suite a backend runs: the whole storage contract
/// ([`crate::testing::contract`]), a smoke subset of the domain scenarios, the
/// permission matrix and the state-machine test. The in-memory store also
/// runs every domain scenario ([`domain_scenarios!`](crate::domain_scenarios)).
///
/// ```ignore
/// crcm_core::conformance_tests!(MyFactory);
/// // Attributes after a `;` go on every test, e.g. to ignore them with a
/// // reason when a server is not configured:
/// crcm_core::conformance_tests!(MyFactory; #[cfg_attr(no_server, ignore = "SERVER_URL is not set")]);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr $(; $(#[$attr:meta])*)?) => {
        $crate::conformance_tests!(@contract [$($(#[$attr])*)?] $factory;
            invalid_lead_input_is_refused_and_changes_nothing,
            edge_inputs_are_stored_exactly,
            extreme_values_are_refused_or_summed_exactly,
            filters_and_cursors_mean_the_same_everywhere,
            bulk_over_a_query_acts_on_the_set_at_the_start,
            customers_page_in_creation_order,
            delete_is_refused_while_links_exist,
            communications_are_linked_created_or_ignored,
            configuration_changes_are_validated,
            stale_writes_conflict_and_write_nothing,
            concurrent_qualify_is_exactly_once,
            concurrent_auto_qualify_creates_one_customer,
            delete_races_new_links,
            concurrent_phase_moves_lose_no_update,
            events_are_gap_free_and_paged,
            history_records_every_field_change,
            lead_filters_match_their_semantics,
            queries_match_the_reference,
            search_folds_accents_case_and_punctuation,
            board_matches_the_leads,
            bulk_actions_apply_per_lead,
            duplicates_and_intake_are_ranked,
            reports_match_the_leads,
            merge_moves_everything_to_the_survivor,
            reopen_keeps_everything,
            import_reports_every_row,
            import_mapping_is_checked_first,
            import_places_leads_in_their_phase,
            import_resumes_after_interruption,
            import_reruns_by_external_reference,
            import_keeps_history_dates,
            import_reverts_what_nobody_touched,
            export_imports_back,
            lead_numbers_are_reserved_in_blocks
        );
        // Smoke: the main flow of each machine, end to end on the backend.
        $crate::conformance_tests!(@scenario [$($(#[$attr])*)?] $factory;
            create_lead_starts_new_in_initial_phase,
            qualify_creates_customer_and_deal,
            winning_a_deal_converts_the_lead,
            timeline_and_rotting
        );
        $crate::conformance_tests!(@one [$($(#[$attr])*)?] $factory; api every_request_type_answers_over_json);
        $crate::conformance_tests!(@one [$($(#[$attr])*)?] $factory; api malformed_requests_get_their_code);
        $crate::conformance_tests!(@one [$($(#[$attr])*)?] $factory; visibility read_matrix);
        $crate::conformance_tests!(@one [$($(#[$attr])*)?] $factory; visibility visibility_levels);
        #[test]
        $($(#[$attr])*)?
        fn permission_matrix() {
            $crate::testing::run(::std::sync::Arc::new($factory), $crate::testing::permissions::permission_matrix);
        }
        #[test]
        $($(#[$attr])*)?
        fn deals_follow_their_lead() {
            $crate::testing::run(::std::sync::Arc::new($factory), $crate::testing::permissions::deals_follow_their_lead);
        }
        #[test]
        $($(#[$attr])*)?
        fn state_machine() {
            $crate::testing::conformance::state_machine(::std::sync::Arc::new($factory));
        }
    };
    (@contract $attrs:tt $factory:expr; $($case:ident),* $(,)?) => {
        $(
            $crate::conformance_tests!(@one $attrs $factory; contract $case);
        )*
    };
    (@scenario $attrs:tt $factory:expr; $($case:ident),* $(,)?) => {
        $(
            $crate::conformance_tests!(@one $attrs $factory; conformance $case);
        )*
    };
    (@one [$(#[$attr:meta])*] $factory:expr; $module:ident $case:ident) => {
        #[test]
        $(#[$attr])*
        fn $case() {
            $crate::testing::run(::std::sync::Arc::new($factory), $crate::testing::$module::$case);
        }
    };
}

/// The domain scenarios beyond the smoke subset of
/// [`conformance_tests!`](crate::conformance_tests): the rules of the three
/// machines, permissions, reasons, phases and deals, told as stories. They
/// rest on the rules, not on storage, so the in-memory store runs them.
#[macro_export]
macro_rules! domain_scenarios {
    ($factory:expr) => {
        $crate::conformance_tests!(@scenario [] $factory;
            only_new_and_contacted_are_set_by_hand,
            qualify_with_matching_customer_asks_to_choose,
            quotations_need_a_deal,
            disqualify_and_reopen,
            closed_leads_are_not_duplicates_or_requalified,
            phases_belong_to_the_account_type,
            unphased_account_types_follow_the_setting,
            closing_reasons_only_in_closing_phases,
            deal_stages_probability_and_reopen,
            reopening_the_won_deal_unconverts_the_lead,
            a_lead_can_have_several_deals,
            permissions_are_enforced
        );
    };
}
