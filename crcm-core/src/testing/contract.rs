//! The storage contract: the cases whose outcome rests on what a backend
//! stores and finds (atomic refusals, exact round trips, paging, optimistic
//! concurrency and races, the event sequence, history, filters, persistence,
//! the lookups behind matching, links and configuration use). Every backend
//! runs every case ([`conformance_tests!`](crate::conformance_tests)).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;

use super::conformance::{assert_unchanged, b2b, code, create, exec, move_to, qualify, refuse, snapshot, user};
pub use super::extremes::{
    bulk_over_a_query_acts_on_the_set_at_the_start, extreme_values_are_refused_or_summed_exactly,
    filters_and_cursors_mean_the_same_everywhere,
};
pub use super::imports::{
    export_imports_back, import_keeps_history_dates, import_mapping_is_checked_first,
    import_places_leads_in_their_phase, import_reports_every_row, import_reruns_by_external_reference,
    import_resumes_after_interruption, import_reverts_what_nobody_touched, lead_numbers_are_reserved_in_blocks,
};
pub use super::queries::{
    board_matches_the_leads, bulk_actions_apply_per_lead, duplicates_and_intake_are_ranked,
    merge_moves_everything_to_the_survivor, queries_match_the_reference, reports_match_the_leads,
    search_folds_accents_case_and_punctuation,
};
use super::{AllLeads, StoreFactory, ann, bob, fixture_engine, maria, phase, root};
use crate::domain::activity::{ActivityKind, CommunicationKind, CommunicationStatus, Subject};
use crate::domain::config::ConfigError;
use crate::domain::custom::CustomValue;
use crate::domain::entity::EntityRef;
use crate::domain::error::InputError;
use crate::domain::event::DomainEvent;
use crate::domain::input::{CustomerChoice, DealDraft, InboundCommunication, LeadPatch, NewCustomer, NewLead};
use crate::domain::lead::LeadStatus;
use crate::engine::Engine;
use crate::engine::commands;
use crate::engine::commands::{Command, CommandOutput};
use crate::engine::query::CustomerQuery;
use crate::rules::error::Error;
use crate::rules::machine::LeadError;
use crate::rules::machine::{CommunicationError, LeadLinks};
use crate::store::error::StoreError;
use crate::store::query::TimeRange;
use crate::store::uow::UnitOfWork;
use crate::store::{LeadFilter, PageRequest, StoreExt};

/// Seed 003: "The Email field is validated by format. If the address is entered
/// incorrectly, the system will show an error." A refused lead changes nothing
/// and consumes no lead number.
pub async fn invalid_lead_input_is_refused_and_changes_nothing(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let events_before = engine
        .events_since(&crate::testing::root(), 0, 1000)
        .await
        .unwrap_or_default()
        .len();
    let mut bad = b2b("Ada", "Acme");
    bad.email = Some("ada@@acme".into());
    bad.phone = Some("12".into());
    bad.source = Some(code("carrier_pigeon"));
    let e = refuse(&engine, &ann(), Command::CreateLead(commands::CreateLead { lead: bad })).await;
    match e {
        Error::Input(InputError::Many(list)) => {
            assert_eq!(list.len(), 3, "every problem is reported at once: {list:?}");
            assert!(matches!(list[0], InputError::InvalidEmail { .. }));
        }
        other => panic!("expected three input errors, got {other}"),
    }
    // Seed 001: "Contact name and company (required)" — crcm needs at least one of them.
    let e = refuse(
        &engine,
        &ann(),
        Command::CreateLead(commands::CreateLead {
            lead: NewLead {
                account_type: Some(code("b2b")),
                ..NewLead::default()
            },
        }),
    )
    .await;
    assert!(
        matches!(&e, Error::Input(InputError::OneOfRequired { fields }) if fields == &["first_name", "last_name", "company"]),
        "{e}"
    );
    let mut custom = b2b("Ada", "Acme");
    custom
        .custom
        .insert(code("segment"), CustomValue::Choice("galactic".into()));
    let e = refuse(
        &engine,
        &ann(),
        Command::CreateLead(commands::CreateLead { lead: custom }),
    )
    .await;
    assert!(matches!(e, Error::Input(InputError::CustomField { .. })), "{e}");
    assert!(
        engine
            .lead_list(&LeadFilter::default())
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(
        engine
            .events_since(&crate::testing::root(), 0, 1000)
            .await
            .unwrap_or_default()
            .len(),
        events_before
    );
    let ok = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    assert_eq!(ok.number, 1, "refused leads consume no number");
}

/// Every backend stores exactly what the core accepts, and the core refuses
/// the rest with a typed error naming the field (see [`crate::domain::limits`]): texts
/// at their limits in emoji and accents, codes that differ only by case,
/// zones that differ only by accent or case, the longest e-mail, the largest
/// team and note; NUL, over-long texts, e-mails, notes and teams are refused
/// and change nothing.
pub async fn edge_inputs_are_stored_exactly(factory: Arc<dyn StoreFactory>) {
    use crate::domain::limits;
    let engine = fixture_engine(&*factory).await;
    // Case-variant codes are different codes: a phase `call` beside `CALL`,
    // a tag `VIP` beside `vip`.
    let (mut config, version) = engine.config().await.unwrap_or_else(|e| panic!("{e}"));
    let mut call = config.phases[0].clone();
    call.code = code("call");
    call.phase_type = crate::domain::config::PhaseType::Regular;
    call.order = 15;
    call.description = "é".repeat(limits::LINE);
    config.phases.push(call);
    let mut vip = config.tags[0].clone();
    for c in ["VIP", "vip"] {
        vip.code = code(c);
        config.tags.push(vip.clone());
    }
    engine
        .run(
            &maria(),
            commands::SetConfig {
                config,
                expected_version: Some(version),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("case-variant codes: {e}"));

    let emoji = "😀".repeat(limits::TEXT);
    let local = "a".repeat(64);
    let longest_email = format!("{local}@{}.{}.{}.com", "b".repeat(63), "c".repeat(63), "d".repeat(57));
    assert_eq!(longest_email.len(), limits::EMAIL);
    let mut input = b2b("Ada", &"ü".repeat(limits::LINE));
    input.description = emoji.clone();
    input.email = Some(longest_email.clone());
    input.tags = [code("VIP"), code("vip")].into();
    input.team = (1..=limits::TEAM).map(|i| user(&format!("member{i}"))).collect();
    let lead = create(&engine, &ann(), input).await;
    exec(
        &engine,
        &ann(),
        Command::MoveLeadPhase(commands::MoveLeadPhase {
            lead: lead.id,
            phase: phase("b2b", "call"),
            closing_reason: None,
            note: None,
        }),
    )
    .await;
    // A second text at the limit: the history entry holds both.
    let emoji2 = "🚀".repeat(limits::TEXT);
    engine
        .run(
            &ann(),
            commands::UpdateLead {
                lead: lead.id,
                patch: LeadPatch {
                    description: Some(emoji2.clone()),
                    ..LeadPatch::default()
                },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("update at the limit: {e}"));
    let stored = engine
        .lead(&crate::testing::root(), lead.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.description, emoji2);
    assert_eq!(stored.company, "ü".repeat(limits::LINE));
    assert_eq!(stored.email.as_ref().map(|e| e.as_str()), Some(longest_email.as_str()));
    assert_eq!(stored.tags, [code("VIP"), code("vip")].into());
    assert_eq!(stored.team.len(), limits::TEAM);
    assert_eq!(stored.phase, Some(phase("b2b", "call")));
    let history = engine
        .history(&crate::testing::root(), EntityRef::lead(lead.id))
        .await
        .unwrap_or_default();
    assert_eq!(history.len(), 3);
    let lookup = |tag: &str| LeadFilter {
        tags: [code(tag)].into(),
        ..LeadFilter::default()
    };
    for tag in ["VIP", "vip"] {
        let found = engine.lead_list(&lookup(tag)).await.unwrap_or_default();
        assert_eq!(found.len(), 1, "tag {tag} finds the lead");
    }
    assert!(
        engine.lead_list(&lookup("Vip")).await.unwrap_or_default().is_empty(),
        "no third variant"
    );

    // Zones that differ by accent or case are different zones.
    let mut zoned = Vec::new();
    for zone in ["Zürich", "zurich", "Zurich", "ZURICH"] {
        let mut input = b2b("Zed", "Zones");
        input.zone = zone.into();
        zoned.push(create(&engine, &ann(), input).await);
    }
    for (i, zone) in ["Zürich", "zurich", "Zurich", "ZURICH"].iter().enumerate() {
        let found = engine
            .lead_list(&LeadFilter {
                zone: Some((*zone).to_owned()),
                ..LeadFilter::default()
            })
            .await
            .unwrap_or_default();
        assert_eq!(
            found.iter().map(|l| l.id).collect::<Vec<_>>(),
            vec![zoned[i].id],
            "zone {zone:?} finds exactly its lead"
        );
    }

    // Refusals: typed, naming the field, and nothing changes.
    let before = snapshot(&engine, lead.id).await;
    let patch = |p: LeadPatch| {
        Command::UpdateLead(commands::UpdateLead {
            lead: lead.id,
            patch: p,
        })
    };
    let refusals = [
        (
            patch(LeadPatch {
                first_name: Some("Ada\0".into()),
                ..LeadPatch::default()
            }),
            "first_name",
        ),
        (
            patch(LeadPatch {
                description: Some("a\0b".into()),
                ..LeadPatch::default()
            }),
            "description",
        ),
        (
            patch(LeadPatch {
                zone: Some("Zone\nTwo".into()),
                ..LeadPatch::default()
            }),
            "zone",
        ),
        (
            patch(LeadPatch {
                description: Some(format!("{emoji}!")),
                ..LeadPatch::default()
            }),
            "description",
        ),
        (
            patch(LeadPatch {
                email: Some(Some(format!("{}@{}.com", "a".repeat(64), "b".repeat(246)))),
                ..LeadPatch::default()
            }),
            "email",
        ),
        (
            Command::SetLeadTeam(commands::SetLeadTeam {
                lead: lead.id,
                team: (0..=limits::TEAM).map(|i| user(&format!("other{i}"))).collect(),
            }),
            "team",
        ),
        (
            Command::DisqualifyLead(commands::DisqualifyLead {
                lead: lead.id,
                reason: code("no_budget"),
                note: Some("n".repeat(limits::NOTE + 1)),
            }),
            "note",
        ),
    ];
    for (command, field) in refusals {
        let name = command.name();
        let e = refuse(&engine, &ann(), command).await;
        let named = match &e {
            Error::Input(InputError::Many(list)) => list.iter().any(|x| x.to_string().contains(field)),
            Error::Input(InputError::InvalidEmail { .. }) => field == "email",
            Error::Input(x) => x.to_string().contains(field),
            _ => false,
        };
        assert!(named, "{name}: a typed input error naming {field}, got {e:?}");
        assert_unchanged(&engine, &before, lead.id, name).await;
    }
    // At the limits, notes are accepted.
    exec(
        &engine,
        &ann(),
        Command::DisqualifyLead(commands::DisqualifyLead {
            lead: lead.id,
            reason: code("no_budget"),
            note: Some("n".repeat(limits::NOTE)),
        }),
    )
    .await;
    let stored = engine
        .lead(&crate::testing::root(), lead.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.lost_note.map(|n| n.chars().count()), Some(limits::NOTE));
}

/// Customers list in creation order, a page at a time, none missed or repeated.
pub async fn customers_page_in_creation_order(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut created = Vec::new();
    for i in 0..5 {
        let out = exec(
            &engine,
            &ann(),
            Command::CreateCustomer(commands::CreateCustomer {
                customer: NewCustomer {
                    name: format!("Customer {i}"),
                    ..NewCustomer::default()
                },
            }),
        )
        .await;
        let CommandOutput::Customer { customer } = out else {
            panic!("{out:?}")
        };
        created.push(customer.id);
    }
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let query = CustomerQuery {
            page: PageRequest {
                after,
                limit: 2,
                total: true,
            },
            ..CustomerQuery::default()
        };
        let page = engine
            .customers(&crate::testing::root(), &query)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.total, Some(5));
        pages.push(page.items.iter().map(|c| c.id).collect::<Vec<_>>());
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
    assert_eq!(pages.concat(), created, "creation order, each once");
    let all = engine
        .customers(&crate::testing::root(), &CustomerQuery::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .items;
    assert_eq!(
        all.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec!["Customer 0", "Customer 1", "Customer 2", "Customer 3", "Customer 4"]
    );
    let none = CustomerQuery {
        page: PageRequest::first(0),
        ..CustomerQuery::default()
    };
    let empty = engine
        .customers(&crate::testing::root(), &none)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(empty.items.is_empty());
    assert_eq!(empty.next, None, "a page of 0 is a count, with no cursor");
}

/// Seed 003: "Before deleting, check: there are no related sales orders and
/// invoices; there are no related calls and emails."
pub async fn delete_is_refused_while_links_exist(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut input = b2b("Ada", "Acme");
    input.phone = Some("+1 415 555 0100".into());
    let lead = create(&engine, &ann(), input).await;
    let out = exec(
        &engine,
        &ann(),
        Command::ReceiveCommunication(commands::ReceiveCommunication {
            communication: InboundCommunication {
                kind: CommunicationKind::Call,
                from_email: None,
                from_phone: Some("415-555-0100".into()),
                summary: "asks for a quote".into(),
                body: String::new(),
                received_at: None,
            },
        }),
    )
    .await;
    let CommandOutput::Communication { communication, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (communication.status, communication.lead),
        (CommunicationStatus::Linked, Some(lead.id)),
        "found by phone"
    );
    let before = snapshot(&engine, lead.id).await;
    let e = refuse(
        &engine,
        &root(),
        Command::DeleteLead(commands::DeleteLead {
            lead: lead.id,
            if_version: None,
        }),
    )
    .await;
    assert!(
        matches!(&e, Error::Lead(LeadError::HasLinks { links, .. })
            if **links == LeadLinks { communications: vec![communication.id], ..LeadLinks::default() }),
        "{e}"
    );
    assert_unchanged(&engine, &before, lead.id, "delete with links").await;
}

/// Inbound calls and e-mails (seed 004): create a lead from one, attach one to
/// an existing lead, or mark it ignored.
pub async fn communications_are_linked_created_or_ignored(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let receive = |email: &str| {
        Command::ReceiveCommunication(commands::ReceiveCommunication {
            communication: InboundCommunication {
                kind: CommunicationKind::Email,
                from_email: Some(email.into()),
                from_phone: None,
                summary: "hello".into(),
                body: String::new(),
                received_at: None,
            },
        })
    };
    let comm = |out: CommandOutput| match out {
        CommandOutput::Communication { communication, lead } => (*communication, lead.map(|l| *l)),
        other => panic!("{other:?}"),
    };
    let (c1, _) = comm(exec(&engine, &ann(), receive("new.person@example.org")).await);
    assert_eq!(c1.status, CommunicationStatus::New);
    let (c1, lead) = comm(
        exec(
            &engine,
            &ann(),
            Command::CreateLeadFromCommunication(commands::CreateLeadFromCommunication {
                communication: c1.id,
                lead: b2b("New", "Person Inc"),
            }),
        )
        .await,
    );
    let lead = lead.unwrap_or_else(|| panic!("a lead is created"));
    assert_eq!(lead.email.as_ref().map(|e| e.as_str()), Some("new.person@example.org"));
    assert_eq!((c1.status, c1.lead), (CommunicationStatus::Linked, Some(lead.id)));
    let (c2, _) = comm(exec(&engine, &ann(), receive("spam@example.net")).await);
    let (c2, _) = comm(
        exec(
            &engine,
            &ann(),
            Command::IgnoreCommunication(commands::IgnoreCommunication { communication: c2.id }),
        )
        .await,
    );
    assert_eq!(c2.status, CommunicationStatus::Ignored);
    let e = refuse(
        &engine,
        &ann(),
        Command::AttachCommunication(commands::AttachCommunication {
            communication: c2.id,
            lead: lead.id,
        }),
    )
    .await;
    assert!(
        matches!(e, Error::Communication(CommunicationError::Ignored { communication }) if communication == c2.id),
        "{e}"
    );
    let (c3, _) = comm(exec(&engine, &ann(), receive("other@example.net")).await);
    let (c3, _) = comm(
        exec(
            &engine,
            &ann(),
            Command::AttachCommunication(commands::AttachCommunication {
                communication: c3.id,
                lead: lead.id,
            }),
        )
        .await,
    );
    assert_eq!(c3.lead, Some(lead.id));
    assert_eq!(
        engine
            .communications_of(&crate::testing::root(), lead.id)
            .await
            .unwrap_or_default()
            .len(),
        2
    );
    let e = refuse(
        &engine,
        &ann(),
        Command::ReceiveCommunication(commands::ReceiveCommunication {
            communication: InboundCommunication {
                kind: CommunicationKind::Call,
                from_email: None,
                from_phone: None,
                summary: String::new(),
                body: String::new(),
                received_at: None,
            },
        }),
    )
    .await;
    assert!(matches!(e, Error::Input(InputError::Required { .. })), "{e}");
}

/// Configuration is validated as a whole (every problem reported), versioned,
/// and a change that would strand existing data names what uses it.
pub async fn configuration_changes_are_validated(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let (config, version) = engine.config().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(version, 1);
    let mut broken = config.clone();
    broken
        .phases
        .retain(|p| !(p.account_type.as_str() == "b2c" && p.code.as_str() == "CLOSED"));
    broken.pipelines.iter_mut().for_each(|p| p.default = false);
    let e = refuse(
        &engine,
        &maria(),
        Command::SetConfig(commands::SetConfig {
            config: broken,
            expected_version: Some(1),
        }),
    )
    .await;
    match e {
        Error::Config(ConfigError::Invalid { problems }) => assert_eq!(problems.len(), 2, "{problems:?}"),
        other => panic!("{other}"),
    }
    let e = refuse(
        &engine,
        &maria(),
        Command::SetConfig(commands::SetConfig {
            config: config.clone(),
            expected_version: Some(7),
        }),
    )
    .await;
    assert!(
        matches!(e, Error::Config(ConfigError::Stale { expected: 7, found: 1 })),
        "{e}"
    );
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    move_to(&engine, &ann(), lead.id, phase("b2b", "QUOTE")).await;
    let mut strands = config.clone();
    strands.phases.retain(|p| p.code.as_str() != "QUOTE");
    let e = refuse(
        &engine,
        &maria(),
        Command::SetConfig(commands::SetConfig {
            config: strands,
            expected_version: Some(1),
        }),
    )
    .await;
    match &e {
        Error::Config(ConfigError::InUse { uses }) => {
            assert_eq!(uses.len(), 1);
            assert_eq!(uses[0].item.to_string(), "phase b2b/QUOTE");
            assert_eq!((uses[0].leads, uses[0].deals), (1, 0));
            assert_eq!(uses[0].lead_examples, vec![1]);
        }
        other => panic!("{other}"),
    }
    assert_eq!(engine.config().await.map(|(_, v)| v).unwrap_or(0), 1, "nothing stored");
    let mut ok = config.clone();
    ok.phases.retain(|p| p.code.as_str() != "MEETING");
    assert_eq!(
        engine
            .run(
                &maria(),
                commands::SetConfig {
                    config: ok,
                    expected_version: Some(1)
                }
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .version,
        2
    );
}

/// Optimistic concurrency: a write against a stale version fails with a typed
/// conflict and writes nothing.
pub async fn stale_writes_conflict_and_write_nothing(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let fresh = engine
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
    // A unit of work prepared against version 1, committed after version 2 exists.
    let mut stale = lead.clone();
    stale.description = "stale edit".into();
    let mut uow = UnitOfWork::new(&ann().user, Utc::now(), "update_lead");
    uow.update(&lead, &mut stale);
    uow.event(DomainEvent::LeadUpdated {
        lead: lead.id,
        fields: vec!["description".into()],
    });
    match engine.store().commit(uow).await {
        Err(StoreError::Conflict {
            entity,
            expected,
            found,
        }) => {
            assert_eq!(
                (entity, expected, found),
                (EntityRef::lead(lead.id), Some(1), Some(fresh.version))
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_unchanged(&engine, &before, lead.id, "stale commit").await;
    // An insert of an existing record conflicts too.
    let mut dup = UnitOfWork::new(&ann().user, Utc::now(), "create_lead");
    dup.insert(&lead);
    assert!(engine.store().commit(dup).await.is_err_and(|e| e.is_conflict()));
    assert_unchanged(&engine, &before, lead.id, "duplicate insert").await;
}

/// Two tasks qualifying one lead at the same time end with one customer, one
/// deal, and one typed error.
pub async fn concurrent_qualify_is_exactly_once(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    for round in 0..10 {
        let mut input = b2b("Ada", &format!("Acme {round}"));
        input.email = Some(format!("buyer{round}@acme.example.com"));
        let lead = create(&engine, &ann(), input).await;
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    engine
                        .run(
                            &ann(),
                            commands::QualifyLead {
                                lead: lead.id,
                                customer: CustomerChoice::Auto,
                                deal: DealDraft::default(),
                            },
                        )
                        .await
                        .map(|q| (q.lead, q.customer, q.deal))
                })
            })
            .collect();
        let mut ok = 0;
        let mut refused = Vec::new();
        for t in tasks {
            match t.await.unwrap_or_else(|e| panic!("task: {e}")) {
                Ok(_) => ok += 1,
                Err(e) => refused.push(e),
            }
        }
        assert_eq!(ok, 1, "exactly one qualify wins");
        assert_eq!(refused.len(), 1);
        assert!(
            matches!(
                refused[0],
                Error::Lead(LeadError::NotAllowed {
                    status: LeadStatus::Qualified,
                    ..
                })
            ),
            "the loser learns the lead is already qualified: {}",
            refused[0]
        );
        assert_eq!(
            engine
                .deals_of_lead(&crate::testing::root(), lead.id)
                .await
                .unwrap_or_default()
                .len(),
            1,
            "one deal"
        );
        let customers = engine
            .store()
            .customers_by_email(&format!("buyer{round}@acme.example.com"))
            .await
            .unwrap_or_default();
        assert_eq!(customers.len(), 1, "one customer");
    }
    // Without retries the loser may get the conflict itself; it must name the
    // version it found (a snapshot read would report the one it expected).
    let once = engine.clone().with_max_attempts(1);
    let mut conflicts = 0;
    for round in 0..10 {
        let lead = create(&once, &ann(), b2b("Ada", &format!("Once {round}"))).await;
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let engine = once.clone();
                tokio::spawn(async move {
                    engine
                        .run(
                            &ann(),
                            commands::QualifyLead {
                                lead: lead.id,
                                customer: CustomerChoice::Create,
                                deal: DealDraft::default(),
                            },
                        )
                        .await
                        .map(|q| (q.lead, q.customer, q.deal))
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap_or_else(|e| panic!("task: {e}")) {
                Ok(_) => ok += 1,
                Err(Error::Store(StoreError::Conflict {
                    entity,
                    expected,
                    found,
                })) => {
                    conflicts += 1;
                    if entity == EntityRef::lead(lead.id) {
                        assert_ne!(expected, found, "a conflict reports the version it found");
                    }
                }
                Err(Error::Lead(LeadError::NotAllowed { .. })) => {}
                Err(Error::Store(e)) if e.is_conflict() => conflicts += 1,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(ok, 1, "exactly one qualify wins");
        assert_eq!(
            once.deals_of_lead(&crate::testing::root(), lead.id)
                .await
                .unwrap_or_default()
                .len(),
            1
        );
    }
    eprintln!(
        "concurrent qualify on {}: {conflicts} of 10 losers got the conflict",
        engine.store().backend()
    );
}

/// Leads with the same e-mail qualified at the same time with
/// `CustomerChoice::Auto` create one customer: the first qualify creates it,
/// the others find it and ask the user to choose. (The decision "no customer
/// has this e-mail" is guarded by the e-mail's lookup key.)
pub async fn concurrent_auto_qualify_creates_one_customer(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    // With one attempt, a qualify that raced the creator gets the conflict
    // itself: proof that the race happened and the guard caught it.
    let once = engine.clone().with_max_attempts(1);
    let mut conflicts = 0;
    for round in 0..16 {
        let engine = if round % 2 == 0 { &engine } else { &once };
        let email = format!("race{round}@same.example.com");
        let mut leads = Vec::new();
        for i in 0..3 {
            let mut input = b2b(&format!("Buyer {i}"), &format!("Same {round}"));
            input.email = Some(email.clone());
            leads.push(create(engine, &ann(), input).await);
        }
        let start = Arc::new(tokio::sync::Barrier::new(leads.len()));
        let tasks: Vec<_> = leads
            .iter()
            .map(|lead| {
                let engine = (*engine).clone();
                let id = lead.id;
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    engine
                        .execute(
                            &ann(),
                            Command::QualifyLead(commands::QualifyLead {
                                lead: id,
                                customer: CustomerChoice::Auto,
                                deal: DealDraft::default(),
                            }),
                        )
                        .await
                })
            })
            .collect();
        let mut created = Vec::new();
        let mut asked = Vec::new();
        for t in tasks {
            match t.await.unwrap_or_else(|e| panic!("task: {e}")) {
                Ok(CommandOutput::Qualified { customer, .. }) => created.push(customer.id),
                Ok(other) => panic!("{other:?}"),
                Err(Error::Lead(LeadError::CustomerChoiceRequired { candidates, .. })) => asked.push(candidates),
                Err(Error::Store(e)) if e.is_conflict() && round % 2 == 1 => conflicts += 1,
                Err(e) => panic!("round {round}: unexpected error: {e}"),
            }
        }
        let customers = engine.store().customers_by_email(&email).await.unwrap_or_default();
        assert_eq!(customers.len(), 1, "round {round}: one customer with {email}");
        assert_eq!(created, vec![customers[0].id], "round {round}: one qualify created it");
        for candidates in &asked {
            assert_eq!(candidates, &vec![customers[0].id], "the others are asked to choose it");
        }
        if round % 2 == 0 {
            assert_eq!(asked.len(), 2, "with retries every loser is asked to choose");
        }
    }
    eprintln!(
        "auto qualify race on {}: 16 rounds x 3 leads, one customer each; without retries {conflicts} of 16 losers got a conflict",
        engine.store().backend()
    );
}

/// Deleting a lead while another writer logs an activity on it ends one of
/// two ways, never a third: the delete wins (the activity is refused, the
/// lead is not found) or the activity wins (the delete is refused for the
/// link). Never an orphan activity, never a raw backend error.
pub async fn delete_races_new_links(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let (mut deleted, mut linked) = (0, 0);
    for round in 0..12 {
        let lead = create(&engine, &ann(), b2b("Ada", &format!("Gone {round}"))).await;
        let subject = Subject::Lead(lead.id);
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let log = {
            let engine = engine.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                // Start later each round, to sweep the delete's decision window.
                for _ in 0..round {
                    tokio::task::yield_now().await;
                }
                engine
                    .execute(
                        &ann(),
                        Command::LogActivity(commands::LogActivity {
                            subject,
                            kind: ActivityKind::Call,
                            summary: "called".into(),
                            body: String::new(),
                            occurred_at: None,
                        }),
                    )
                    .await
            })
        };
        let delete = {
            let engine = engine.clone();
            tokio::spawn(async move {
                start.wait().await;
                engine
                    .execute(
                        &root(),
                        Command::DeleteLead(commands::DeleteLead {
                            lead: lead.id,
                            if_version: None,
                        }),
                    )
                    .await
            })
        };
        let log = log.await.unwrap_or_else(|e| panic!("task: {e}"));
        let delete = delete.await.unwrap_or_else(|e| panic!("task: {e}"));
        let activities = engine.store().activities(subject).await.unwrap_or_default();
        let exists = engine.store().lead(lead.id).await.ok().flatten().is_some();
        match (&log, &delete) {
            (Err(Error::NotFound(e)), Ok(_)) if *e == EntityRef::lead(lead.id) => {
                assert!(!exists && activities.is_empty(), "round {round}: deleted, no orphan");
                deleted += 1;
            }
            (Ok(_), Err(Error::Lead(LeadError::HasLinks { .. }))) => {
                assert!(exists && activities.len() == 1, "round {round}: kept with its activity");
                linked += 1;
            }
            _ => panic!("round {round}: log {log:?}, delete {delete:?}"),
        }
    }
    eprintln!(
        "delete vs log activity on {}: {deleted} deletes won, {linked} activities won",
        engine.store().backend()
    );
}

/// 8 tasks × 200 phase moves on shared leads lose no update: each lead's final
/// version and history count equal the number of commands that changed it.
pub async fn concurrent_phase_moves_lose_no_update(factory: Arc<dyn StoreFactory>) {
    concurrent_moves(factory, 8, 200).await;
}

/// A small seeded generator (SplitMix64), so every run makes the same moves.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// What one mover task saw.
#[derive(Default)]
struct Moves {
    /// Per lead: moves that changed it (a commit happened).
    applied: Vec<usize>,
    /// Moves to the phase the lead was already in (nothing to commit).
    unchanged: usize,
    /// Moves that needed more than one attempt.
    retried: usize,
    /// Conflicts returned to the caller (tasks without retries).
    conflicts: Vec<StoreError>,
}

/// The body of [`concurrent_phase_moves_lose_no_update`], sized by the caller.
///
/// Three leads, one of them hot (half of all moves go to it); each move goes to
/// a random open phase (seeded). Half of the tasks let the engine retry
/// conflicts, the other half get them back, so contention is counted, and
/// every reported conflict must name a version other than the one expected.
pub async fn concurrent_moves(factory: Arc<dyn StoreFactory>, tasks: usize, moves: usize) {
    let engine = fixture_engine(&*factory).await;
    let mut leads = Vec::new();
    for i in 0..3 {
        leads.push(create(&engine, &ann(), b2b("Shared", &format!("Co {i}"))).await.id);
    }
    let phases = [phase("b2b", "CALL"), phase("b2b", "MEETING"), phase("b2b", "QUOTE")];
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let engine = if t % 2 == 0 {
                engine.clone()
            } else {
                engine.clone().with_max_attempts(1)
            };
            let leads = leads.clone();
            let phases = phases.clone();
            tokio::spawn(async move {
                let mut rng = SplitMix(0xC0FF_EE00 + t as u64);
                let mut seen = Moves {
                    applied: vec![0; leads.len()],
                    ..Moves::default()
                };
                for _ in 0..moves {
                    // Lead 0 is hot: it takes half of the moves.
                    let which = if rng.below(2) == 0 {
                        0
                    } else {
                        1 + rng.below(leads.len() - 1)
                    };
                    let cmd = Command::MoveLeadPhase(commands::MoveLeadPhase {
                        lead: leads[which],
                        phase: phases[rng.below(phases.len())].clone(),
                        closing_reason: None,
                        note: None,
                    });
                    match engine.execute_detailed(&ann(), cmd).await {
                        Ok(done) => {
                            if done.receipt.is_some() {
                                seen.applied[which] += 1;
                            } else {
                                seen.unchanged += 1;
                            }
                            if done.attempts > 1 {
                                seen.retried += 1;
                            }
                        }
                        Err(Error::Store(e)) if e.is_conflict() => seen.conflicts.push(e),
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                seen
            })
        })
        .collect();
    let mut applied = vec![0usize; leads.len()];
    let (mut unchanged, mut retried, mut conflicts) = (0, 0, Vec::new());
    for h in handles {
        let seen = h.await.unwrap_or_else(|e| panic!("task: {e}"));
        for (total, n) in applied.iter_mut().zip(seen.applied) {
            *total += n;
        }
        unchanged += seen.unchanged;
        retried += seen.retried;
        conflicts.extend(seen.conflicts);
    }
    let total: usize = applied.iter().sum();
    eprintln!(
        "concurrent moves on {}: {} moves, {total} applied {applied:?}, {unchanged} to the same phase, \
         {retried} retried, {} conflicts returned",
        engine.store().backend(),
        tasks * moves,
        conflicts.len()
    );
    assert_eq!(
        total + unchanged + conflicts.len(),
        tasks * moves,
        "every move is applied, a no-op, or a conflict"
    );
    // A random target equals the current phase about one time in three, more
    // often for a hot lead whose movers race to the same phase.
    assert!(
        total * 3 >= tasks * moves - conflicts.len(),
        "most moves apply: {total} of {}",
        tasks * moves
    );
    assert!(
        retried + conflicts.len() > 0,
        "the movers must really contend (no retry and no conflict seen)"
    );
    for c in &conflicts {
        if let StoreError::Conflict { expected, found, .. } = c {
            assert_ne!(expected, found, "a conflict reports the version it found: {c}");
        }
    }
    for (lead, n) in leads.iter().zip(&applied) {
        let l = engine
            .lead(&crate::testing::root(), *lead)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let history = engine
            .history(&crate::testing::root(), EntityRef::lead(*lead))
            .await
            .unwrap_or_default();
        assert_eq!(l.version as usize, 1 + n, "final version = 1 + successful changes");
        assert_eq!(history.len(), 1 + n, "one history entry per applied change");
        let versions: Vec<u64> = history.iter().map(|h| h.version).collect();
        assert_eq!(
            versions,
            (1..=l.version).collect::<Vec<_>>(),
            "history versions are 1..=n with no gap"
        );
    }
}

/// The event outbox: store-wide sequence, gap-free, strictly increasing, read
/// in pages with a cursor without missing or repeating one.
pub async fn events_are_gap_free_and_paged(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    for i in 0..7 {
        let lead = create(&engine, &ann(), b2b("Ada", &format!("Acme {i}"))).await;
        if i % 2 == 0 {
            qualify(&engine, &ann(), lead.id).await;
        }
    }
    let all = engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_default();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>(), "gap-free from 1");
    assert!(matches!(all[0].event, DomainEvent::ConfigChanged { version: 1 }));
    let mut cursor = 0;
    let mut paged = Vec::new();
    loop {
        let page = engine
            .events_since(&crate::testing::root(), cursor, 4)
            .await
            .unwrap_or_default();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        cursor = page.last().map_or(cursor, |e| e.seq);
        paged.extend(page);
    }
    assert_eq!(paged, all);
    let created = all
        .iter()
        .filter(|e| matches!(e.event, DomainEvent::LeadCreated { .. }))
        .count();
    assert_eq!(created, 7);
}

/// History: every change records who, when, and each field's old and new value.
pub async fn history_records_every_field_change(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let patch = LeadPatch {
        job_title: Some("CTO".into()),
        email: Some(Some("ada@acme.example.com".into())),
        tags: Some(BTreeSet::from([code("exhibition")])),
        ..LeadPatch::default()
    };
    engine
        .run(&ann(), commands::UpdateLead { lead: lead.id, patch })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    move_to(&engine, &ann(), lead.id, phase("b2b", "QUOTE")).await;
    let noop = engine
        .run(
            &ann(),
            commands::UpdateLead {
                lead: lead.id,
                patch: LeadPatch {
                    job_title: Some("CTO".into()),
                    ..LeadPatch::default()
                },
            },
        )
        .await;
    assert_eq!(
        noop.map(|l| l.version).unwrap_or(0),
        3,
        "an edit that changes nothing writes nothing"
    );
    let history = engine
        .history(&crate::testing::root(), EntityRef::lead(lead.id))
        .await
        .unwrap_or_default();
    assert_eq!(
        history.iter().map(|h| h.action.as_str()).collect::<Vec<_>>(),
        ["create_lead", "update_lead", "move_lead_phase"]
    );
    assert_eq!(history.iter().map(|h| h.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(history.iter().all(|h| h.actor == ann().user));
    let edit = &history[1];
    let fields: Vec<&str> = edit.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["email", "job_title", "tags"]);
    let jt = edit.change("job_title").unwrap_or_else(|| panic!("job_title"));
    assert_eq!((jt.old.as_str(), jt.new.as_str()), (Some(""), Some("CTO")));
    let ph = history[2].change("phase").unwrap_or_else(|| panic!("phase"));
    assert_eq!(ph.new["code"].as_str(), Some("QUOTE"));
    assert!(history[0].changes.len() > 10, "creation records every field");
}

/// The typed lead filter means the same on every backend.
pub async fn lead_filters_match_their_semantics(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut all = Vec::new();
    for i in 0..12u32 {
        let mut input = b2b(&format!("P{i}"), &format!("Co {i}"));
        input.source = Some(code(["web_form", "referral", "cold_call"][i as usize % 3]));
        input.priority = (i % 2 == 0).then(|| code("high"));
        input.zone = ["north", "south"][i as usize % 2].into();
        input.email = Some(format!("p{}@co.example.com", i % 4));
        input.phone = (i % 3 == 0).then(|| format!("+1 212 555 01{:02}", i % 5));
        if i % 4 == 0 {
            input.tags = BTreeSet::from([code("exhibition")]);
        }
        if i % 5 == 0 {
            input.account_type = Some(code("b2c"));
        }
        let actor = if i % 2 == 0 { ann() } else { bob() };
        let lead = create(&engine, &actor, input).await;
        if i % 3 == 1 {
            engine
                .run(
                    &actor,
                    commands::SetLeadStatus {
                        lead: lead.id,
                        status: LeadStatus::Contacted,
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        if i % 4 == 1 {
            engine
                .run(
                    &actor,
                    commands::DisqualifyLead {
                        lead: lead.id,
                        reason: code("no_fit"),
                        note: None,
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        all.push(lead.id);
    }
    let everything = engine.lead_list(&LeadFilter::default()).await.unwrap_or_default();
    assert_eq!(everything.len(), 12);
    assert!(
        everything.windows(2).all(|w| w[0].number < w[1].number),
        "ordered by number"
    );
    let midpoint = everything[6].updated_at;
    let filters = vec![
        LeadFilter {
            statuses: Some([LeadStatus::Contacted, LeadStatus::Disqualified].into()),
            ..LeadFilter::default()
        },
        LeadFilter {
            owner: Some(bob().user),
            ..LeadFilter::default()
        },
        LeadFilter {
            account_type: Some(code("b2c")),
            ..LeadFilter::default()
        },
        LeadFilter {
            phase: Some(phase("b2b", "LOST")),
            ..LeadFilter::default()
        },
        LeadFilter {
            source: Some(code("referral")),
            priority: Some(code("high")),
            ..LeadFilter::default()
        },
        LeadFilter {
            tags: [code("exhibition")].into(),
            ..LeadFilter::default()
        },
        LeadFilter {
            zone: Some("south".into()),
            ..LeadFilter::default()
        },
        LeadFilter {
            email: Some("p1@co.example.com".into()),
            ..LeadFilter::default()
        },
        LeadFilter {
            phone: Some("+12125550103".into()),
            ..LeadFilter::default()
        },
        LeadFilter {
            lost_reason: Some(code("no_fit")),
            ..LeadFilter::default()
        },
        LeadFilter {
            updated: TimeRange {
                from: Some(midpoint),
                before: None,
            },
            ..LeadFilter::default()
        },
        LeadFilter {
            updated: TimeRange {
                from: None,
                before: Some(midpoint),
            },
            ..LeadFilter::default()
        },
        LeadFilter {
            owner: Some(ann().user),
            ..LeadFilter::default()
        },
    ];
    for f in filters {
        let got: Vec<u64> = engine
            .lead_list(&f)
            .await
            .unwrap_or_default()
            .iter()
            .map(|l| l.number)
            .collect();
        let want: Vec<u64> = everything.iter().filter(|l| f.matches(l)).map(|l| l.number).collect();
        assert_eq!(got, want, "filter {f:?}");
        assert!(
            !want.is_empty() || f.phone.is_some(),
            "the fixture exercises filter {f:?}"
        );
    }
}

/// A persistent store keeps everything across a close and reopen.
pub async fn reopen_keeps_everything(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let lead = create(&engine, &ann(), b2b("Ada", "Acme")).await;
    let (_, customer, deal) = qualify(&engine, &ann(), lead.id).await;
    let before = snapshot(&engine, lead.id).await;
    let events = engine
        .events_since(&crate::testing::root(), 0, usize::MAX)
        .await
        .unwrap_or_default();
    let store = engine.store().clone();
    drop(engine);
    let Some(reopened) = factory.reopen(store).await.unwrap_or_else(|e| panic!("reopen: {e}")) else {
        eprintln!("reopen_keeps_everything: this backend is not persistent; nothing to check");
        return;
    };
    let engine = Engine::open(reopened).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snapshot(&engine, lead.id).await, before);
    assert_eq!(
        engine
            .events_since(&crate::testing::root(), 0, usize::MAX)
            .await
            .unwrap_or_default(),
        events
    );
    assert_eq!(
        engine
            .customer(&crate::testing::root(), customer.id)
            .await
            .map(|c| c.id)
            .ok(),
        Some(customer.id)
    );
    assert_eq!(
        engine
            .deal(&crate::testing::root(), deal.id)
            .await
            .map(|d| d.version)
            .ok(),
        Some(deal.version)
    );
    assert_eq!(engine.config().await.map(|(_, v)| v).ok(), Some(1));
    // Numbering and the event sequence continue where they stopped.
    let next = create(&engine, &ann(), b2b("Ben", "Beta")).await;
    assert_eq!(next.number, lead.number + 1);
    let after = engine
        .events_since(&crate::testing::root(), events.len() as u64, 10)
        .await
        .unwrap_or_default();
    assert_eq!(after.first().map(|e| e.seq), Some(events.len() as u64 + 1));
}
