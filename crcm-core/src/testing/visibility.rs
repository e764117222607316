//! The read rows of the permission matrix: for every read, which of the five
//! parties of [`Party`] sees the owner's records under the default
//! [`VisibilityRules`]. The conformance case [`read_matrix`] runs every cell
//! on a backend, [`visibility_levels`] runs the lead reads again under each
//! configurable level, and the README's read table is [`markdown`]'s output.
//!
//! "Sees" means: a record get answers the record (not `not_found`), a list,
//! board, report or export counts the owner's records, and the event feed
//! answers (a role that does not see every lead is refused it, since events
//! carry every lead's changes).
//!
//! Decisions the rows pin down:
//!
//! - A record outside the actor's scope does not exist for them: gets answer
//!   `not_found`, as for a record that was never there, so the answer does not
//!   tell a sales person which lead numbers a colleague holds.
//! - Customers and the communication inbox are shared: every party sees them,
//!   as every party may link a customer or work a new call.
//! - The event feed is all or nothing: it needs [`Visibility::All`].

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use super::permissions::{Party, tess};
use super::{StoreFactory, ann, bob, fixture_config, fixture_engine, maria, phase, root};
use crate::domain::activity::{ActivityKind, CommunicationKind, Subject};
use crate::domain::config::{SalesTeam, Visibility, VisibilityRules};
use crate::domain::entity::EntityRef;
use crate::domain::ids::{Code, CommunicationId, CustomerId, DealId, LeadId};
use crate::domain::input::{CustomerChoice, DealDraft, InboundCommunication, NewLead};
use crate::engine::Engine;
use crate::engine::board::BoardQuery;
use crate::engine::commands::{self, Command, CommandOutput};
use crate::engine::intake::DuplicateKey;
use crate::engine::query::{CustomerQuery, DealQuery, LeadQuery};
use crate::engine::reports::Interval;
use crate::rules::access::Actor;
use crate::rules::error::Error;
use crate::store::query::{CommunicationFilter, PageRequest};

/// One read, tried on the owner's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadCase {
    /// `get_lead`: the owner's lead.
    GetLead,
    /// `get_lead_by_number`: the owner's lead.
    GetLeadByNumber,
    /// `list_leads`: searching the owner's lead's company.
    ListLeads,
    /// `board`: the owner's leads in their columns.
    Board,
    /// `export`: the owner's leads.
    Export,
    /// `history`: the owner's lead.
    History,
    /// `lead_history`: the owner's lead.
    LeadHistory,
    /// `activities`: on the owner's lead.
    Activities,
    /// `follow_ups`: on the owner's lead.
    FollowUps,
    /// `communications_of_lead`: the owner's lead.
    CommunicationsOfLead,
    /// `duplicates`: of the owner's lead.
    Duplicates,
    /// `duplicate_groups`: the owner's leads sharing a phone.
    DuplicateGroups,
    /// `customer_candidates`: for the owner's lead.
    CustomerCandidates,
    /// `communication_matches`: an e-mail from the owner's lead's contact.
    CommunicationMatches,
    /// `get_deal`: the deal of the owner's lead.
    GetDeal,
    /// `list_deals`: the deal of the owner's lead.
    ListDeals,
    /// `deals_of_lead`: the owner's qualified lead.
    DealsOfLead,
    /// `deal_board`: the deal of the owner's lead.
    DealBoard,
    /// `report_sources`: the owner's leads.
    ReportSources,
    /// `report_funnel`: the owner's leads.
    ReportFunnel,
    /// `report_time_in_phase`: a stay of the owner's lead.
    ReportTimeInPhase,
    /// `report_reasons`: the owner's disqualified lead.
    ReportReasons,
    /// `report_workload`: the owner's open leads.
    ReportWorkload,
    /// `report_trend`: the owner's leads, created.
    ReportTrend,
    /// `report_stuck`: the owner's open leads.
    ReportStuck,
    /// `report_data_quality`: the owner's open leads.
    ReportDataQuality,
    /// `report_forecast`: the deal of the owner's lead.
    ReportForecast,
    /// `get_customer`: the customer of the owner's lead.
    GetCustomer,
    /// `list_customers`: the customer of the owner's lead.
    ListCustomers,
    /// `list_communications`: the e-mail linked to the owner's lead.
    ListCommunications,
    /// `events_since`: the event feed.
    EventsSince,
}

/// One read row of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct ReadRow {
    /// The read.
    pub case: ReadCase,
    /// The request's JSON `type` ([`crate::engine::api::Body::name`]).
    pub request: &'static str,
    /// What the read is tried on.
    pub situation: &'static str,
    /// Whether each party of [`Party::ALL`] sees it.
    pub sees: [bool; 5],
}

const Y: bool = true;
const N: bool = false;
/// Whoever works the lead sees it: owner, record team, manager, admin.
const WORKS_LEAD: [bool; 5] = [Y, N, Y, Y, Y];
const EVERYONE: [bool; 5] = [Y, Y, Y, Y, Y];

const fn row(case: ReadCase, request: &'static str, situation: &'static str, sees: [bool; 5]) -> ReadRow {
    ReadRow {
        case,
        request,
        situation,
        sees,
    }
}

/// The read rows, under the default [`VisibilityRules`].
pub const READ_MATRIX: &[ReadRow] = &[
    row(ReadCase::GetLead, "get_lead", "the owner's lead", WORKS_LEAD),
    row(
        ReadCase::GetLeadByNumber,
        "get_lead_by_number",
        "the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ListLeads,
        "list_leads",
        "searching the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::Board,
        "board",
        "the owner's leads in their columns",
        WORKS_LEAD,
    ),
    row(ReadCase::Export, "export", "the owner's leads", WORKS_LEAD),
    row(ReadCase::History, "history", "the owner's lead", WORKS_LEAD),
    row(ReadCase::LeadHistory, "lead_history", "the owner's lead", WORKS_LEAD),
    row(ReadCase::Activities, "activities", "on the owner's lead", WORKS_LEAD),
    row(ReadCase::FollowUps, "follow_ups", "on the owner's lead", WORKS_LEAD),
    row(
        ReadCase::CommunicationsOfLead,
        "communications_of_lead",
        "the owner's lead",
        WORKS_LEAD,
    ),
    row(ReadCase::Duplicates, "duplicates", "of the owner's lead", WORKS_LEAD),
    row(
        ReadCase::DuplicateGroups,
        "duplicate_groups",
        "the owner's leads sharing a phone",
        WORKS_LEAD,
    ),
    row(
        ReadCase::CustomerCandidates,
        "customer_candidates",
        "for the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::CommunicationMatches,
        "communication_matches",
        "the leads an e-mail from the owner's contact may be from",
        WORKS_LEAD,
    ),
    row(
        ReadCase::GetDeal,
        "get_deal",
        "the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ListDeals,
        "list_deals",
        "the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::DealsOfLead,
        "deals_of_lead",
        "the owner's qualified lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::DealBoard,
        "deal_board",
        "the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ReportSources,
        "report_sources",
        "the owner's leads",
        WORKS_LEAD,
    ),
    row(ReadCase::ReportFunnel, "report_funnel", "the owner's leads", WORKS_LEAD),
    row(
        ReadCase::ReportTimeInPhase,
        "report_time_in_phase",
        "a stay of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ReportReasons,
        "report_reasons",
        "the owner's disqualified lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ReportWorkload,
        "report_workload",
        "the owner's open leads",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ReportTrend,
        "report_trend",
        "the owner's leads, created",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ReportStuck,
        "report_stuck",
        "the owner's open leads",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ReportDataQuality,
        "report_data_quality",
        "the owner's open leads",
        WORKS_LEAD,
    ),
    row(
        ReadCase::ReportForecast,
        "report_forecast",
        "the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        ReadCase::GetCustomer,
        "get_customer",
        "the customer of the owner's lead (shared)",
        EVERYONE,
    ),
    row(
        ReadCase::ListCustomers,
        "list_customers",
        "the customer of the owner's lead (shared)",
        EVERYONE,
    ),
    row(
        ReadCase::ListCommunications,
        "list_communications",
        "the e-mail linked to the owner's lead (shared inbox)",
        EVERYONE,
    ),
    row(
        ReadCase::EventsSince,
        "events_since",
        "the event feed (every lead's changes)",
        [N, N, N, Y, Y],
    ),
];

/// The read rows as a markdown table (the README's read table).
pub fn markdown() -> String {
    let mut out = String::from("| read | on | ");
    out.push_str(&Party::ALL.map(Party::label).join(" | "));
    out.push_str(" |\n|---|---|");
    out.push_str(&"---|".repeat(Party::ALL.len()));
    out.push('\n');
    for r in READ_MATRIX {
        let cells = r.sees.map(|a| if a { "yes" } else { "no" });
        let _ = writeln!(out, "| `{}` | {} | {} |", r.request, r.situation, cells.join(" | "));
    }
    out
}

fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

/// The owner's records every read is tried on.
struct Records {
    /// Open, with tess on its record team; moved once, with an activity, a
    /// follow-up and a linked e-mail.
    open: LeadId,
    number: u64,
    company: String,
    qualified: LeadId,
    deal: DealId,
    customer: CustomerId,
    communication: CommunicationId,
    /// The e-mail of the open lead and of the customer.
    email: crate::domain::contact::Email,
}

async fn run(engine: &Engine, actor: &Actor, command: Command) -> CommandOutput {
    let name = command.name();
    engine
        .execute(actor, command)
        .await
        .unwrap_or_else(|e| panic!("setting up the read matrix: {name} must succeed: {e}"))
}

async fn owner_lead(engine: &Engine, company: &str, email: Option<&str>) -> (LeadId, u64) {
    let lead = NewLead {
        first_name: "Vera".into(),
        last_name: "Visible".into(),
        company: company.into(),
        account_type: Some(code("b2b")),
        owner: Some(ann().user),
        team: BTreeSet::from([tess().user]),
        email: email.map(str::to_owned),
        phone: Some("+1 212 555 0177".into()),
        source: Some(code("web_form")),
        ..NewLead::default()
    };
    match run(engine, &maria(), Command::CreateLead(commands::CreateLead { lead })).await {
        CommandOutput::Lead { lead } => (lead.id, lead.number),
        other => panic!("{other:?}"),
    }
}

/// Ann's records, created by the manager and ann; nobody else owns a lead.
async fn records(engine: &Engine) -> Records {
    let company = "Vantage Visibility".to_owned();
    let email = "vera@vantage.example";
    let (open, number) = owner_lead(engine, &company, Some(email)).await;
    // A twin with the same phone, for the duplicate reads.
    owner_lead(engine, "Vantage Twin", None).await;
    run(
        engine,
        &ann(),
        Command::MoveLeadPhase(commands::MoveLeadPhase::new(open, phase("b2b", "MEETING"))),
    )
    .await;
    run(
        engine,
        &ann(),
        Command::LogActivity(commands::LogActivity {
            subject: Subject::Lead(open),
            kind: ActivityKind::Call,
            summary: "Called about the offer".into(),
            body: String::new(),
            occurred_at: None,
        }),
    )
    .await;
    run(
        engine,
        &ann(),
        Command::ScheduleFollowUp(commands::ScheduleFollowUp {
            subject: Subject::Lead(open),
            due: engine.now().date_naive(),
            note: "Send the offer".into(),
            assignee: None,
        }),
    )
    .await;
    let communication = InboundCommunication {
        kind: CommunicationKind::Email,
        from_email: Some(email.into()),
        from_phone: None,
        summary: "asks for a price".into(),
        body: String::new(),
        received_at: None,
    };
    let communication = match run(
        engine,
        &root(),
        Command::ReceiveCommunication(commands::ReceiveCommunication { communication }),
    )
    .await
    {
        CommandOutput::Communication { communication, .. } => communication.id,
        other => panic!("{other:?}"),
    };
    let (qualified, _) = owner_lead(engine, "Vantage Qualified", Some(email)).await;
    let (customer, deal) = match run(
        engine,
        &ann(),
        Command::QualifyLead(commands::QualifyLead {
            lead: qualified,
            customer: CustomerChoice::Auto,
            deal: DealDraft::default(),
        }),
    )
    .await
    {
        CommandOutput::Qualified { customer, deal, .. } => (customer.id, deal.id),
        other => panic!("{other:?}"),
    };
    let (lost, _) = owner_lead(engine, "Vantage Lost", None).await;
    run(
        engine,
        &ann(),
        Command::DisqualifyLead(commands::DisqualifyLead {
            lead: lost,
            reason: code("no_budget"),
            note: None,
        }),
    )
    .await;
    Records {
        open,
        number,
        company,
        qualified,
        deal,
        customer,
        communication,
        email: crate::domain::contact::Email::parse(email).unwrap_or_else(|e| panic!("{e}")),
    }
}

/// Whether `actor` sees what `case` reads: `Ok(true)` when the read answers
/// the owner's records, `Ok(false)` when it answers without them (or
/// `not_found`, or refuses the event feed), `Err` for any other answer.
async fn sees(engine: &Engine, case: ReadCase, actor: &Actor, r: &Records) -> Result<bool, String> {
    let all_time = Interval::default();
    let b2b = code("b2b");
    let sales = code("sales");
    let answer: Result<bool, Error> = async {
        Ok(match case {
            ReadCase::GetLead => either(engine.lead(actor, r.open).await.map(|l| l.id == r.open))?,
            ReadCase::GetLeadByNumber => either(engine.lead_by_number(actor, r.number).await.map(|l| l.id == r.open))?,
            ReadCase::ListLeads => {
                let query = LeadQuery {
                    search: Some(r.company.clone()),
                    ..LeadQuery::default()
                };
                engine.leads(actor, &query).await?.items.iter().any(|l| l.id == r.open)
            }
            ReadCase::Board => {
                let board = engine.board(actor, &BoardQuery::new(b2b)).await?;
                board.columns.iter().map(|c| c.count).sum::<u64>() > 0
            }
            ReadCase::Export => {
                let mut csv = Vec::new();
                engine.export_leads(actor, &LeadQuery::default(), &mut csv).await? > 0
            }
            ReadCase::History => either(
                engine
                    .history(actor, EntityRef::lead(r.open))
                    .await
                    .map(|h| !h.is_empty()),
            )?,
            ReadCase::LeadHistory => either(engine.lead_history(actor, r.open).await.map(|h| !h.is_empty()))?,
            ReadCase::Activities => either(
                engine
                    .activities(actor, Subject::Lead(r.open))
                    .await
                    .map(|a| !a.is_empty()),
            )?,
            ReadCase::FollowUps => either(
                engine
                    .follow_ups(actor, Subject::Lead(r.open))
                    .await
                    .map(|f| !f.is_empty()),
            )?,
            ReadCase::CommunicationsOfLead => {
                either(engine.communications_of(actor, r.open).await.map(|c| !c.is_empty()))?
            }
            ReadCase::Duplicates => either(engine.duplicates(actor, r.open).await.map(|d| !d.is_empty()))?,
            ReadCase::DuplicateGroups => !engine.duplicate_groups(actor, DuplicateKey::Phone).await?.is_empty(),
            ReadCase::CustomerCandidates => {
                either(engine.customer_candidates(actor, r.open).await.map(|c| !c.is_empty()))?
            }
            ReadCase::CommunicationMatches => {
                let matches = engine.communication_matches(actor, r.communication).await?;
                !matches.open_leads.is_empty() || !matches.closed_leads.is_empty()
            }
            ReadCase::GetDeal => either(engine.deal(actor, r.deal).await.map(|d| d.id == r.deal))?,
            ReadCase::ListDeals => engine
                .deals(actor, &DealQuery::default())
                .await?
                .items
                .iter()
                .any(|d| d.id == r.deal),
            ReadCase::DealsOfLead => either(engine.deals_of_lead(actor, r.qualified).await.map(|d| !d.is_empty()))?,
            ReadCase::DealBoard => {
                let board = engine.deal_board(actor, &sales, None).await?;
                board.columns.iter().map(|c| c.count).sum::<u64>() > 0
            }
            ReadCase::ReportSources => {
                engine
                    .report_sources(actor, &all_time)
                    .await?
                    .iter()
                    .map(|s| s.created)
                    .sum::<u64>()
                    > 0
            }
            ReadCase::ReportFunnel => {
                let funnel = engine.report_funnel(actor, &b2b, &all_time).await?;
                funnel.phases.iter().map(|p| p.reached).sum::<u64>() > 0
            }
            ReadCase::ReportTimeInPhase => {
                let rows = engine.report_time_in_phase(actor, &b2b, &all_time).await?;
                rows.iter().map(|p| p.stays).sum::<u64>() > 0
            }
            ReadCase::ReportReasons => {
                engine
                    .report_reasons(actor, &all_time)
                    .await?
                    .iter()
                    .map(|p| p.count)
                    .sum::<u64>()
                    > 0
            }
            ReadCase::ReportWorkload => {
                engine
                    .report_workload(actor)
                    .await?
                    .iter()
                    .map(|w| w.open_leads)
                    .sum::<u64>()
                    > 0
            }
            ReadCase::ReportTrend => {
                engine
                    .report_trend(actor, &all_time, crate::engine::reports::TrendPeriod::Month)
                    .await?
                    .iter()
                    .map(|r| r.created)
                    .sum::<u64>()
                    > 0
            }
            ReadCase::ReportStuck => !engine
                .report_stuck(actor, 0, &PageRequest::default())
                .await?
                .items
                .is_empty(),
            ReadCase::ReportDataQuality => engine.report_data_quality(actor).await?.open > 0,
            ReadCase::ReportForecast => {
                engine
                    .report_forecast(actor, Some(&sales))
                    .await?
                    .iter()
                    .map(|f| f.deals)
                    .sum::<u64>()
                    > 0
            }
            ReadCase::GetCustomer => either(engine.customer(actor, r.customer).await.map(|c| c.id == r.customer))?,
            ReadCase::ListCustomers => engine
                .customers(actor, &CustomerQuery::by_email(&r.email))
                .await?
                .items
                .iter()
                .any(|c| c.id == r.customer),
            ReadCase::ListCommunications => {
                let page = engine
                    .communications(actor, &CommunicationFilter::default(), &PageRequest::default())
                    .await?;
                page.items.iter().any(|c| c.id == r.communication)
            }
            ReadCase::EventsSince => match engine.events_since(actor, 0, 10).await {
                Ok(events) => !events.is_empty(),
                Err(Error::Permission(p)) if p.user == actor.user => false,
                Err(e) => return Err(e),
            },
        })
    }
    .await;
    answer.map_err(|e| format!("{} ({e})", e.kind()))
}

/// A get's answer: the record, or `not_found` for a record out of sight.
fn either(answer: Result<bool, Error>) -> Result<bool, Error> {
    match answer {
        Err(Error::NotFound(_) | Error::LeadNumberNotFound(_)) => Ok(false),
        other => other,
    }
}

/// Runs every cell of [`READ_MATRIX`] under the default visibility.
pub async fn read_matrix(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let records = records(&engine).await;
    let mut wrong = Vec::new();
    let (mut seen, mut hidden) = (0, 0);
    for r in READ_MATRIX {
        for (party, expected) in Party::ALL.into_iter().zip(r.sees) {
            let cell = format!("{} ({}) x {}", r.request, r.situation, party.label());
            match sees(&engine, r.case, &party.actor(), &records).await {
                Ok(got) if got == expected => {
                    if got {
                        seen += 1;
                    } else {
                        hidden += 1;
                    }
                }
                Ok(got) => wrong.push(format!("{cell}: expected sees = {expected}, got {got}")),
                Err(e) => wrong.push(format!("{cell}: {e}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} read cells are wrong:\n{}",
        wrong.len(),
        READ_MATRIX.len() * Party::ALL.len(),
        wrong.join("\n")
    );
    eprintln!(
        "read matrix: {} rows x {} parties: {seen} seen, {hidden} hidden, as expected",
        READ_MATRIX.len(),
        Party::ALL.len()
    );
}

/// The level of the party's role under `rules`.
fn level_of(rules: VisibilityRules, party: Party) -> Visibility {
    match party {
        Party::Manager => rules.manager,
        Party::Admin => rules.admin,
        _ => rules.sales_person,
    }
}

/// What a party sees of the owner's leads under `rules`, with ann and bob in
/// one sales team: the level of its role decides.
fn expected_under(rules: VisibilityRules, party: Party) -> bool {
    match (level_of(rules, party), party) {
        (Visibility::All, _) => true,
        // The owner always sees its own.
        (_, Party::Owner) => true,
        (Visibility::Own, _) => false,
        (Visibility::OwnAndRecordTeam, p) => p == Party::TeamMember,
        // Bob shares a sales team with ann; tess is on the record team.
        (Visibility::Team, p) => p == Party::TeamMember || p == Party::OtherSalesPerson,
    }
}

/// The lead-scoped reads run again under each level (own, own and record
/// team, team, all) for sales people, and a manager restricted to own: each
/// party sees exactly what its role's level gives, on lists, boards, reports,
/// exports and gets alike; the shared reads stay shared and the event feed
/// follows [`Visibility::All`].
pub async fn visibility_levels(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let records = records(&engine).await;
    let levels = [
        VisibilityRules {
            sales_person: Visibility::Own,
            ..VisibilityRules::default()
        },
        VisibilityRules::default(),
        VisibilityRules {
            sales_person: Visibility::Team,
            ..VisibilityRules::default()
        },
        VisibilityRules {
            sales_person: Visibility::All,
            manager: Visibility::Own,
            admin: Visibility::All,
        },
    ];
    let mut wrong = Vec::new();
    let mut checked = 0;
    for rules in levels {
        let (_, version) = engine.config().await.unwrap_or_else(|e| panic!("{e}"));
        let mut config = fixture_config();
        config.settings.visibility = rules;
        config.sales_teams = vec![SalesTeam {
            code: code("north"),
            name: "North".into(),
            members: BTreeSet::from([ann().user, bob().user]),
        }];
        run(
            &engine,
            &maria(),
            Command::SetConfig(commands::SetConfig {
                config,
                expected_version: Some(version),
            }),
        )
        .await;
        for r in READ_MATRIX {
            for party in Party::ALL {
                let expected = match r.case {
                    ReadCase::GetCustomer | ReadCase::ListCustomers | ReadCase::ListCommunications => true,
                    ReadCase::EventsSince => level_of(rules, party) == Visibility::All,
                    _ => expected_under(rules, party),
                };
                checked += 1;
                let cell = format!("{rules:?}: {} x {}", r.request, party.label());
                match sees(&engine, r.case, &party.actor(), &records).await {
                    Ok(got) if got == expected => {}
                    Ok(got) => wrong.push(format!("{cell}: expected sees = {expected}, got {got}")),
                    Err(e) => wrong.push(format!("{cell}: {e}")),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} cells are wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    eprintln!("visibility levels: {checked} cells as configured");
}
