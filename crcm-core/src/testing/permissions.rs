//! The permission matrix: for every [`Command`] variant, in the situations that
//! matter for access, which of five parties may run it. It is the one statement
//! of crcm's access rules that is both tested and published: the conformance
//! case [`permission_matrix`] runs every cell on a backend, and the README's
//! access table is [`markdown`]'s output (a test keeps the two equal).
//!
//! The parties are relative to the record the command acts on:
//!
//! - **owner**: the sales person who owns the lead (or the customer);
//! - **other sales person**: a sales person with no link to it;
//! - **record team**: a sales person on the lead's record team;
//! - **manager** and **admin**.
//!
//! Decisions the matrix pins down:
//!
//! - A lead's deals follow the lead: reassigning a lead gives its deals the new
//!   owner, and changing its record team changes theirs, so whoever works a
//!   lead works its deals and a previous owner no longer does.
//! - Customers are shared master data (the manuals' "partners"): anyone may
//!   link any customer to a lead they work (qualify with
//!   [`CustomerChoice::Link`], or a new lead's `customer`); only the
//!   customer's owner or a manager changes it.
//! - New (unlinked) calls and e-mails are a shared inbox (seed 004: "process
//!   the Calls and Email tabs"): anyone may create a lead from one or mark it
//!   ignored, and an inbound communication is linked to the one open lead
//!   whose contact matches, whoever owns it. Taking a communication off the
//!   lead it is linked to needs the right to change that lead.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::Utc;

use super::{StoreFactory, ann, bob, fixture_engine, maria, phase, root};
use crate::domain::activity::{ActivityKind, CommunicationKind, CommunicationStatus, Subject};
use crate::domain::ids::{Code, CustomerId, DealId, LeadId, UserId};
use crate::domain::input::{
    CustomerChoice, DealDraft, DealPatch, InboundCommunication, LeadPatch, NewContact, NewCustomer, NewLead,
};
use crate::domain::lead::DocumentKind;
use crate::engine::Engine;
use crate::engine::commands;
use crate::engine::commands::{Command, CommandOutput};
use crate::rules::access::{Actor, Role};
use crate::rules::error::Error;
use crate::store::StoreExt;

/// A party to a permission cell, relative to the record the command acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The sales person who owns the record.
    Owner,
    /// A sales person with no link to the record.
    OtherSalesPerson,
    /// A sales person on the lead's record team.
    TeamMember,
    /// A manager.
    Manager,
    /// An admin.
    Admin,
}

impl Party {
    /// The five parties, in the matrix's column order.
    pub const ALL: [Party; 5] = [
        Party::Owner,
        Party::OtherSalesPerson,
        Party::TeamMember,
        Party::Manager,
        Party::Admin,
    ];

    /// The column heading.
    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::OtherSalesPerson => "other sales person",
            Self::TeamMember => "record team",
            Self::Manager => "manager",
            Self::Admin => "admin",
        }
    }

    /// The fixture user playing this party: ann (owner), bob (other), tess
    /// (team), maria (manager), root (admin).
    pub fn actor(self) -> Actor {
        match self {
            Self::Owner => ann(),
            Self::OtherSalesPerson => bob(),
            Self::TeamMember => tess(),
            Self::Manager => maria(),
            Self::Admin => root(),
        }
    }
}

/// One situation a command is tried in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// `create_lead`: a lead owned by the owner.
    CreateLead,
    /// `create_lead`: one's own lead, linked to a customer someone else owns.
    CreateLeadLinkingCustomer,
    /// `update_lead`: the owner's lead.
    UpdateLead,
    /// `set_lead_status`: the owner's lead.
    SetLeadStatus,
    /// `move_lead_phase`: the owner's lead.
    MoveLeadPhase,
    /// `set_closing_reason`: the owner's lead, in a closing phase.
    SetClosingReason,
    /// `change_account_type`: the owner's lead.
    ChangeAccountType,
    /// `qualify_lead`: the owner's lead, creating a customer.
    QualifyLead,
    /// `qualify_lead`: the owner's lead, linking a customer someone else owns.
    QualifyLeadLinkingCustomer,
    /// `open_deal`: the owner's qualified lead.
    OpenDeal,
    /// `disqualify_lead`: the owner's lead.
    DisqualifyLead,
    /// `reopen_lead`: the owner's disqualified lead.
    ReopenLead,
    /// `merge_lead`: one of the owner's leads into another.
    MergeLead,
    /// `reassign_lead`: the owner's lead.
    ReassignLead,
    /// `set_lead_team`: the owner's lead.
    SetLeadTeam,
    /// `delete_lead`: the owner's lead.
    DeleteLead,
    /// `link_lead_document`: an order, on the owner's lead.
    LinkLeadDocument,
    /// `move_deal_stage`: the deal of the owner's lead.
    MoveDealStage,
    /// `win_deal`: the deal of the owner's lead.
    WinDeal,
    /// `win_deal`: the deal of a lead reassigned from the other sales person to the owner.
    WinDealAfterReassign,
    /// `lose_deal`: the deal of the owner's lead.
    LoseDeal,
    /// `reopen_deal`: the won deal of the owner's lead.
    ReopenDeal,
    /// `reopen_deal`: the won deal of a lead reassigned from the other sales person to the owner.
    ReopenDealAfterReassign,
    /// `set_deal_probability`: the deal of the owner's lead.
    SetDealProbability,
    /// `update_deal`: the deal of the owner's lead.
    UpdateDeal,
    /// `link_deal_document`: a quotation, on the deal of the owner's lead.
    LinkDealDocument,
    /// `create_customer`: one's own customer.
    CreateCustomer,
    /// `add_contact`: the owner's customer (customers have no record team).
    AddContact,
    /// `log_activity`: on the owner's lead.
    LogActivityOnLead,
    /// `log_activity`: on the deal of the owner's lead.
    LogActivityOnDeal,
    /// `schedule_follow_up`: on the owner's lead.
    ScheduleFollowUp,
    /// `complete_follow_up`: the owner's follow-up on the owner's lead.
    CompleteFollowUp,
    /// `receive_communication`: from the contact of the owner's lead (linked to it).
    ReceiveCommunication,
    /// `attach_communication`: a new one, to the owner's lead.
    AttachNewCommunication,
    /// `attach_communication`: one linked to the owner's lead, to one's own lead.
    AttachLinkedCommunication,
    /// `create_lead_from_communication`: a new one, for oneself.
    CreateLeadFromNewCommunication,
    /// `create_lead_from_communication`: one linked to the owner's lead, for oneself.
    CreateLeadFromLinkedCommunication,
    /// `ignore_communication`: a new one.
    IgnoreCommunication,
    /// `set_config`: the configuration.
    SetConfig,
}

/// One row of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The situation, set up by [`permission_matrix`].
    pub case: Case,
    /// The command's name ([`Command::name`]).
    pub command: &'static str,
    /// What the command is tried on.
    pub situation: &'static str,
    /// Whether each party of [`Party::ALL`] may run it.
    pub allowed: [bool; 5],
}

const Y: bool = true;
const N: bool = false;
/// Owner, team, manager and admin: whoever works the lead.
const WORKS_LEAD: [bool; 5] = [Y, N, Y, Y, Y];
const EVERYONE: [bool; 5] = [Y, Y, Y, Y, Y];
const MANAGERS: [bool; 5] = [N, N, N, Y, Y];

const fn row(case: Case, command: &'static str, situation: &'static str, allowed: [bool; 5]) -> Row {
    Row {
        case,
        command,
        situation,
        allowed,
    }
}

/// The matrix: every command, in each situation that matters for access.
pub const MATRIX: &[Row] = &[
    row(
        Case::CreateLead,
        "create_lead",
        "a lead owned by the owner",
        [Y, N, N, Y, Y],
    ),
    row(
        Case::CreateLeadLinkingCustomer,
        "create_lead",
        "one's own lead, linked to a customer someone else owns",
        EVERYONE,
    ),
    row(Case::UpdateLead, "update_lead", "the owner's lead", WORKS_LEAD),
    row(Case::SetLeadStatus, "set_lead_status", "the owner's lead", WORKS_LEAD),
    row(Case::MoveLeadPhase, "move_lead_phase", "the owner's lead", WORKS_LEAD),
    row(
        Case::SetClosingReason,
        "set_closing_reason",
        "the owner's lead, in a closing phase",
        WORKS_LEAD,
    ),
    row(
        Case::ChangeAccountType,
        "change_account_type",
        "the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::QualifyLead,
        "qualify_lead",
        "the owner's lead, creating a customer",
        WORKS_LEAD,
    ),
    row(
        Case::QualifyLeadLinkingCustomer,
        "qualify_lead",
        "the owner's lead, linking a customer someone else owns",
        WORKS_LEAD,
    ),
    row(Case::OpenDeal, "open_deal", "the owner's qualified lead", WORKS_LEAD),
    row(Case::DisqualifyLead, "disqualify_lead", "the owner's lead", WORKS_LEAD),
    row(
        Case::ReopenLead,
        "reopen_lead",
        "the owner's disqualified lead",
        WORKS_LEAD,
    ),
    row(
        Case::MergeLead,
        "merge_lead",
        "one of the owner's leads into another",
        WORKS_LEAD,
    ),
    row(Case::ReassignLead, "reassign_lead", "the owner's lead", MANAGERS),
    row(Case::SetLeadTeam, "set_lead_team", "the owner's lead", [Y, N, N, Y, Y]),
    row(Case::DeleteLead, "delete_lead", "the owner's lead", [N, N, N, N, Y]),
    row(
        Case::LinkLeadDocument,
        "link_lead_document",
        "an order, on the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::MoveDealStage,
        "move_deal_stage",
        "the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(Case::WinDeal, "win_deal", "the deal of the owner's lead", WORKS_LEAD),
    row(
        Case::WinDealAfterReassign,
        "win_deal",
        "the deal of a lead reassigned from the other sales person to the owner",
        WORKS_LEAD,
    ),
    row(Case::LoseDeal, "lose_deal", "the deal of the owner's lead", WORKS_LEAD),
    row(
        Case::ReopenDeal,
        "reopen_deal",
        "the won deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::ReopenDealAfterReassign,
        "reopen_deal",
        "the won deal of a lead reassigned from the other sales person to the owner",
        WORKS_LEAD,
    ),
    row(
        Case::SetDealProbability,
        "set_deal_probability",
        "the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::UpdateDeal,
        "update_deal",
        "the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::LinkDealDocument,
        "link_deal_document",
        "a quotation, on the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(Case::CreateCustomer, "create_customer", "one's own customer", EVERYONE),
    row(
        Case::AddContact,
        "add_contact",
        "the owner's customer (customers have no record team)",
        [Y, N, N, Y, Y],
    ),
    row(
        Case::LogActivityOnLead,
        "log_activity",
        "on the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::LogActivityOnDeal,
        "log_activity",
        "on the deal of the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::ScheduleFollowUp,
        "schedule_follow_up",
        "on the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::CompleteFollowUp,
        "complete_follow_up",
        "the owner's follow-up on the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::ReceiveCommunication,
        "receive_communication",
        "from the contact of the owner's lead (linked to it)",
        EVERYONE,
    ),
    row(
        Case::AttachNewCommunication,
        "attach_communication",
        "a new one, to the owner's lead",
        WORKS_LEAD,
    ),
    row(
        Case::AttachLinkedCommunication,
        "attach_communication",
        "one linked to the owner's lead, to one's own lead",
        WORKS_LEAD,
    ),
    row(
        Case::CreateLeadFromNewCommunication,
        "create_lead_from_communication",
        "a new one, for oneself",
        EVERYONE,
    ),
    row(
        Case::CreateLeadFromLinkedCommunication,
        "create_lead_from_communication",
        "one linked to the owner's lead, for oneself",
        WORKS_LEAD,
    ),
    row(Case::IgnoreCommunication, "ignore_communication", "a new one", EVERYONE),
    row(Case::SetConfig, "set_config", "the configuration", MANAGERS),
];

/// The matrix as a markdown table (the README's access table).
pub fn markdown() -> String {
    let mut out = String::from("| command | on | ");
    out.push_str(&Party::ALL.map(Party::label).join(" | "));
    out.push_str(" |\n|---|---|");
    out.push_str(&"---|".repeat(Party::ALL.len()));
    out.push('\n');
    for r in MATRIX {
        let cells = r.allowed.map(|a| if a { "yes" } else { "no" });
        let _ = writeln!(out, "| `{}` | {} | {} |", r.command, r.situation, cells.join(" | "));
    }
    out
}

fn user(id: &str) -> UserId {
    UserId::new(id).unwrap_or_else(|e| panic!("{e}"))
}

fn code(s: &str) -> Code {
    Code::new(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Tess, a sales person on the record team of the owner's leads.
pub fn tess() -> Actor {
    Actor::new(user("tess"), Role::SalesPerson)
}

/// Sam, a sales person who owns the customers "someone else owns".
fn sam() -> Actor {
    Actor::new(user("sam"), Role::SalesPerson)
}

/// A cell's command and the records whose state a refusal must leave as it was.
struct Prepared {
    command: Command,
    lead: Option<LeadId>,
    customer: Option<CustomerId>,
}

/// What a refused command must not change.
#[derive(Debug, PartialEq)]
struct State {
    lead: Option<super::conformance::Snapshot>,
    customer: Option<crate::domain::customer::Customer>,
    events: usize,
}

/// Sets up the cells' records through the engine, as the parties who may.
struct Setup<'a> {
    engine: &'a Engine,
    serial: u32,
}

impl Setup<'_> {
    async fn run(&self, actor: &Actor, command: Command) -> CommandOutput {
        let name = command.name();
        self.engine
            .execute(actor, command)
            .await
            .unwrap_or_else(|e| panic!("setting up the permission matrix: {name} must succeed: {e}"))
    }

    fn unique_email(&mut self) -> String {
        self.serial += 1;
        format!("matrix.{}.{}@example.org", self.serial, Utc::now().timestamp_micros())
    }

    /// A lead owned by `owner` (created by a manager) with tess on its record team.
    async fn lead_of(&mut self, owner: &Actor, email: Option<String>) -> LeadId {
        let input = NewLead {
            first_name: "Matrix".into(),
            last_name: "Lead".into(),
            company: "Matrix Co".into(),
            account_type: Some(code("b2b")),
            owner: Some(owner.user.clone()),
            team: BTreeSet::from([tess().user])
                .into_iter()
                .filter(|u| *u != owner.user)
                .collect(),
            email,
            ..NewLead::default()
        };
        match self
            .run(&maria(), Command::CreateLead(commands::CreateLead { lead: input }))
            .await
        {
            CommandOutput::Lead { lead } => lead.id,
            other => panic!("{other:?}"),
        }
    }

    async fn owner_lead(&mut self) -> LeadId {
        self.lead_of(&ann(), None).await
    }

    /// Qualifies `lead` as `actor`; returns the deal.
    async fn qualify(&mut self, actor: &Actor, lead: LeadId) -> DealId {
        let command = Command::QualifyLead(commands::QualifyLead {
            lead,
            customer: CustomerChoice::Auto,
            deal: DealDraft::default(),
        });
        match self.run(actor, command).await {
            CommandOutput::Qualified { deal, .. } => deal.id,
            other => panic!("{other:?}"),
        }
    }

    /// The owner's qualified lead and its deal.
    async fn owner_deal(&mut self) -> (LeadId, DealId) {
        let lead = self.owner_lead().await;
        (lead, self.qualify(&ann(), lead).await)
    }

    /// A lead bob owned and qualified (and won, if `won`), then reassigned to the owner.
    async fn reassigned_deal(&mut self, won: bool) -> (LeadId, DealId) {
        let lead = self.lead_of(&bob(), None).await;
        let deal = self.qualify(&bob(), lead).await;
        if won {
            self.run(&bob(), Command::WinDeal(commands::WinDeal { deal, stage: None }))
                .await;
        }
        let owner = ann().user;
        self.run(&maria(), Command::ReassignLead(commands::ReassignLead { lead, owner }))
            .await;
        (lead, deal)
    }

    async fn customer_of(&mut self, owner: &Actor) -> CustomerId {
        let customer = NewCustomer {
            name: "Matrix Customer".into(),
            ..NewCustomer::default()
        };
        match self
            .run(owner, Command::CreateCustomer(commands::CreateCustomer { customer }))
            .await
        {
            CommandOutput::Customer { customer } => customer.id,
            other => panic!("{other:?}"),
        }
    }

    async fn receive(&mut self, email: &str) -> crate::domain::ids::CommunicationId {
        let communication = InboundCommunication {
            kind: CommunicationKind::Email,
            from_email: Some(email.to_owned()),
            from_phone: None,
            summary: "asks for a price".into(),
            body: String::new(),
            received_at: None,
        };
        match self
            .run(
                &root(),
                Command::ReceiveCommunication(commands::ReceiveCommunication { communication }),
            )
            .await
        {
            CommandOutput::Communication { communication, .. } => communication.id,
            other => panic!("{other:?}"),
        }
    }

    /// A communication linked to a new lead of the owner; returns both.
    async fn linked_communication(&mut self) -> (LeadId, crate::domain::ids::CommunicationId) {
        let email = self.unique_email();
        let lead = self.lead_of(&ann(), Some(email.clone())).await;
        (lead, self.receive(&email).await)
    }

    /// The command of `case` for `actor`, with its records set up.
    async fn prepare(&mut self, case: Case, actor: &Actor) -> Prepared {
        let on_lead = |lead: LeadId, command: Command| Prepared {
            command,
            lead: Some(lead),
            customer: None,
        };
        let on_nothing = |command: Command| Prepared {
            command,
            lead: None,
            customer: None,
        };
        match case {
            Case::CreateLead => on_nothing(Command::CreateLead(commands::CreateLead {
                lead: NewLead {
                    company: "Made for the owner".into(),
                    account_type: Some(code("b2b")),
                    owner: Some(ann().user),
                    ..NewLead::default()
                },
            })),
            Case::CreateLeadLinkingCustomer => {
                let customer = self.customer_of(&sam()).await;
                Prepared {
                    command: Command::CreateLead(commands::CreateLead {
                        lead: NewLead {
                            company: "Linked".into(),
                            account_type: Some(code("b2b")),
                            customer: Some(customer),
                            ..NewLead::default()
                        },
                    }),
                    lead: None,
                    customer: Some(customer),
                }
            }
            Case::UpdateLead => {
                let lead = self.owner_lead().await;
                let patch = LeadPatch {
                    description: Some("Call back on Monday".into()),
                    ..LeadPatch::default()
                };
                on_lead(lead, Command::UpdateLead(commands::UpdateLead { lead, patch }))
            }
            Case::SetLeadStatus => {
                let lead = self.owner_lead().await;
                let status = crate::domain::lead::LeadStatus::Contacted;
                on_lead(lead, Command::SetLeadStatus(commands::SetLeadStatus { lead, status }))
            }
            Case::MoveLeadPhase => {
                let lead = self.owner_lead().await;
                on_lead(lead, move_to(lead, "MEETING"))
            }
            Case::SetClosingReason => {
                let lead = self.owner_lead().await;
                self.run(&ann(), move_to(lead, "WON")).await;
                let command = Command::SetClosingReason(commands::SetClosingReason {
                    lead,
                    reason: code("won"),
                    note: None,
                });
                on_lead(lead, command)
            }
            Case::ChangeAccountType => {
                let lead = self.owner_lead().await;
                let command = Command::ChangeAccountType(commands::ChangeAccountType {
                    lead,
                    account_type: code("b2c"),
                    phase: Some(phase("b2c", "INTRO")),
                });
                on_lead(lead, command)
            }
            Case::QualifyLead => {
                let lead = self.owner_lead().await;
                let command = Command::QualifyLead(commands::QualifyLead {
                    lead,
                    customer: CustomerChoice::Auto,
                    deal: DealDraft::default(),
                });
                on_lead(lead, command)
            }
            Case::QualifyLeadLinkingCustomer => {
                let customer = self.customer_of(&sam()).await;
                let lead = self.owner_lead().await;
                let command = Command::QualifyLead(commands::QualifyLead {
                    lead,
                    customer: CustomerChoice::Link { customer },
                    deal: DealDraft::default(),
                });
                Prepared {
                    command,
                    lead: Some(lead),
                    customer: Some(customer),
                }
            }
            Case::OpenDeal => {
                let (lead, _) = self.owner_deal().await;
                let command = Command::OpenDeal(commands::OpenDeal {
                    lead,
                    pipeline: Some(code("renewals")),
                    deal: DealDraft::default(),
                });
                on_lead(lead, command)
            }
            Case::DisqualifyLead => {
                let lead = self.owner_lead().await;
                on_lead(lead, disqualify(lead))
            }
            Case::ReopenLead => {
                let lead = self.owner_lead().await;
                self.run(&ann(), disqualify(lead)).await;
                on_lead(lead, Command::ReopenLead(commands::ReopenLead { lead }))
            }
            Case::MergeLead => {
                let lead = self.owner_lead().await;
                let into = self.owner_lead().await;
                on_lead(lead, Command::MergeLead(commands::MergeLead { lead, into }))
            }
            Case::ReassignLead => {
                let lead = self.owner_lead().await;
                let owner = bob().user;
                on_lead(lead, Command::ReassignLead(commands::ReassignLead { lead, owner }))
            }
            Case::SetLeadTeam => {
                let lead = self.owner_lead().await;
                let team = BTreeSet::from([tess().user, user("uma")]);
                on_lead(lead, Command::SetLeadTeam(commands::SetLeadTeam { lead, team }))
            }
            Case::DeleteLead => {
                let lead = self.owner_lead().await;
                on_lead(
                    lead,
                    Command::DeleteLead(commands::DeleteLead { lead, if_version: None }),
                )
            }
            Case::LinkLeadDocument => {
                let lead = self.owner_lead().await;
                let command = Command::LinkLeadDocument(commands::LinkLeadDocument {
                    lead,
                    kind: DocumentKind::Order,
                    external_id: "SO-1".into(),
                });
                on_lead(lead, command)
            }
            Case::MoveDealStage => {
                let (lead, deal) = self.owner_deal().await;
                let stage = code("proposal");
                on_lead(lead, Command::MoveDealStage(commands::MoveDealStage { deal, stage }))
            }
            Case::WinDeal => {
                let (lead, deal) = self.owner_deal().await;
                on_lead(lead, Command::WinDeal(commands::WinDeal { deal, stage: None }))
            }
            Case::WinDealAfterReassign => {
                let (lead, deal) = self.reassigned_deal(false).await;
                on_lead(lead, Command::WinDeal(commands::WinDeal { deal, stage: None }))
            }
            Case::LoseDeal => {
                let (lead, deal) = self.owner_deal().await;
                let command = Command::LoseDeal(commands::LoseDeal {
                    deal,
                    reason: code("no_budget"),
                    note: None,
                });
                on_lead(lead, command)
            }
            Case::ReopenDeal => {
                let (lead, deal) = self.owner_deal().await;
                self.run(&ann(), Command::WinDeal(commands::WinDeal { deal, stage: None }))
                    .await;
                on_lead(lead, Command::ReopenDeal(commands::ReopenDeal { deal, stage: None }))
            }
            Case::ReopenDealAfterReassign => {
                let (lead, deal) = self.reassigned_deal(true).await;
                on_lead(lead, Command::ReopenDeal(commands::ReopenDeal { deal, stage: None }))
            }
            Case::SetDealProbability => {
                let (lead, deal) = self.owner_deal().await;
                let probability = Some(55);
                on_lead(
                    lead,
                    Command::SetDealProbability(commands::SetDealProbability { deal, probability }),
                )
            }
            Case::UpdateDeal => {
                let (lead, deal) = self.owner_deal().await;
                let patch = DealPatch {
                    title: Some("Bigger order".into()),
                    ..DealPatch::default()
                };
                on_lead(lead, Command::UpdateDeal(commands::UpdateDeal { deal, patch }))
            }
            Case::LinkDealDocument => {
                let (lead, deal) = self.owner_deal().await;
                let command = Command::LinkDealDocument(commands::LinkDealDocument {
                    deal,
                    kind: DocumentKind::Quotation,
                    external_id: "QT-1".into(),
                });
                on_lead(lead, command)
            }
            Case::CreateCustomer => on_nothing(Command::CreateCustomer(commands::CreateCustomer {
                customer: NewCustomer {
                    name: "Own Customer".into(),
                    ..NewCustomer::default()
                },
            })),
            Case::AddContact => {
                let customer = self.customer_of(&ann()).await;
                let contact = NewContact {
                    name: "Pat Buyer".into(),
                    ..NewContact::default()
                };
                Prepared {
                    command: Command::AddContact(commands::AddContact { customer, contact }),
                    lead: None,
                    customer: Some(customer),
                }
            }
            Case::LogActivityOnLead => {
                let lead = self.owner_lead().await;
                on_lead(lead, log(Subject::Lead(lead)))
            }
            Case::LogActivityOnDeal => {
                let (lead, deal) = self.owner_deal().await;
                on_lead(lead, log(Subject::Deal(deal)))
            }
            Case::ScheduleFollowUp => {
                let lead = self.owner_lead().await;
                on_lead(lead, follow_up(lead))
            }
            Case::CompleteFollowUp => {
                let lead = self.owner_lead().await;
                let follow_up = match self.run(&ann(), follow_up(lead)).await {
                    CommandOutput::FollowUp { follow_up } => follow_up.id,
                    other => panic!("{other:?}"),
                };
                on_lead(
                    lead,
                    Command::CompleteFollowUp(commands::CompleteFollowUp { follow_up }),
                )
            }
            Case::ReceiveCommunication => {
                let email = self.unique_email();
                let lead = self.lead_of(&ann(), Some(email.clone())).await;
                let communication = InboundCommunication {
                    kind: CommunicationKind::Call,
                    from_email: Some(email),
                    from_phone: None,
                    summary: "calls back".into(),
                    body: String::new(),
                    received_at: None,
                };
                on_lead(
                    lead,
                    Command::ReceiveCommunication(commands::ReceiveCommunication { communication }),
                )
            }
            Case::AttachNewCommunication => {
                let lead = self.owner_lead().await;
                let email = self.unique_email();
                let communication = self.receive(&email).await;
                on_lead(
                    lead,
                    Command::AttachCommunication(commands::AttachCommunication { communication, lead }),
                )
            }
            Case::AttachLinkedCommunication => {
                let (source, communication) = self.linked_communication().await;
                let lead = self.lead_of(actor, None).await;
                on_lead(
                    source,
                    Command::AttachCommunication(commands::AttachCommunication { communication, lead }),
                )
            }
            Case::CreateLeadFromNewCommunication => {
                let email = self.unique_email();
                let communication = self.receive(&email).await;
                on_nothing(from_communication(communication))
            }
            Case::CreateLeadFromLinkedCommunication => {
                let (source, communication) = self.linked_communication().await;
                on_lead(source, from_communication(communication))
            }
            Case::IgnoreCommunication => {
                let email = self.unique_email();
                let communication = self.receive(&email).await;
                on_nothing(Command::IgnoreCommunication(commands::IgnoreCommunication {
                    communication,
                }))
            }
            Case::SetConfig => {
                let (config, version) = self.engine.config().await.unwrap_or_else(|e| panic!("config: {e}"));
                on_nothing(Command::SetConfig(commands::SetConfig {
                    config,
                    expected_version: Some(version),
                }))
            }
        }
    }

    async fn state(&self, prepared: &Prepared) -> State {
        let store = self.engine.store();
        State {
            lead: match prepared.lead {
                Some(id) => Some(super::conformance::snapshot(self.engine, id).await),
                None => None,
            },
            customer: match prepared.customer {
                Some(id) => store.customer(id).await.unwrap_or_else(|e| panic!("{e}")),
                None => None,
            },
            events: store
                .events_since(0, usize::MAX)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .len(),
        }
    }
}

fn move_to(lead: LeadId, phase_code: &str) -> Command {
    Command::MoveLeadPhase(commands::MoveLeadPhase {
        lead,
        phase: phase("b2b", phase_code),
        closing_reason: None,
        note: None,
    })
}

fn disqualify(lead: LeadId) -> Command {
    Command::DisqualifyLead(commands::DisqualifyLead {
        lead,
        reason: code("no_budget"),
        note: None,
    })
}

fn log(subject: Subject) -> Command {
    Command::LogActivity(commands::LogActivity {
        subject,
        kind: ActivityKind::Call,
        summary: "Talked about the budget".into(),
        body: String::new(),
        occurred_at: None,
    })
}

fn follow_up(lead: LeadId) -> Command {
    Command::ScheduleFollowUp(commands::ScheduleFollowUp {
        subject: Subject::Lead(lead),
        due: Utc::now().date_naive(),
        note: "Send the offer".into(),
        assignee: None,
    })
}

fn from_communication(communication: crate::domain::ids::CommunicationId) -> Command {
    Command::CreateLeadFromCommunication(commands::CreateLeadFromCommunication {
        communication,
        lead: NewLead {
            company: "From an e-mail".into(),
            account_type: Some(code("b2b")),
            ..NewLead::default()
        },
    })
}

/// Runs every cell of [`MATRIX`]: an allowed cell succeeds; a denied one fails
/// with a permission error naming the actor and leaves the store exactly as it
/// was. An auto-linked communication is linked to the owner's lead whoever
/// records it.
pub async fn permission_matrix(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut setup = Setup {
        engine: &engine,
        serial: 0,
    };
    let mut wrong = Vec::new();
    let (mut allowed, mut denied) = (0, 0);
    for r in MATRIX {
        for (party, may) in Party::ALL.into_iter().zip(r.allowed) {
            let actor = party.actor();
            let prepared = setup.prepare(r.case, &actor).await;
            assert_eq!(prepared.command.name(), r.command, "row {:?} runs its command", r.case);
            let before = setup.state(&prepared).await;
            let result = engine.execute(&actor, prepared.command.clone()).await;
            let cell = format!("{} ({}) x {}", r.command, r.situation, party.label());
            match (may, result) {
                (true, Ok(out)) => {
                    allowed += 1;
                    if r.case == Case::ReceiveCommunication {
                        let linked = matches!(&out, CommandOutput::Communication { communication, .. }
                            if communication.status == CommunicationStatus::Linked && communication.lead == prepared.lead);
                        if !linked {
                            wrong.push(format!("{cell}: not linked to the owner's lead: {out:?}"));
                        }
                    }
                }
                (false, Err(Error::Permission(p))) => {
                    denied += 1;
                    if p.user != actor.user {
                        wrong.push(format!("{cell}: the permission error names {}", p.user));
                    }
                    if setup.state(&prepared).await != before {
                        wrong.push(format!("{cell}: refused, but the store changed"));
                    }
                }
                (true, Err(e)) => wrong.push(format!("{cell}: expected allowed, got {} ({e})", e.kind())),
                (false, Ok(out)) => wrong.push(format!("{cell}: expected a permission error, got {out:?}")),
                (false, Err(e)) => wrong.push(format!("{cell}: expected a permission error, got {} ({e})", e.kind())),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} permission cells are wrong:\n{}",
        wrong.len(),
        MATRIX.len() * Party::ALL.len(),
        wrong.join("\n")
    );
    eprintln!(
        "permission matrix: {} rows x {} parties: {allowed} allowed, {denied} refused, as expected",
        MATRIX.len(),
        Party::ALL.len()
    );
}

/// Deals follow their lead: reassigning a lead gives its deals the new owner,
/// and changing its record team gives them the same team.
pub async fn deals_follow_their_lead(factory: Arc<dyn StoreFactory>) {
    let engine = fixture_engine(&*factory).await;
    let mut setup = Setup {
        engine: &engine,
        serial: 0,
    };
    let (lead, first) = setup.reassigned_deal(true).await;
    let renewal = match setup
        .run(
            &ann(),
            Command::OpenDeal(commands::OpenDeal {
                lead,
                pipeline: Some(code("renewals")),
                deal: DealDraft::default(),
            }),
        )
        .await
    {
        CommandOutput::Deal { deal, .. } => deal.id,
        other => panic!("{other:?}"),
    };
    let team = BTreeSet::from([user("uma")]);
    setup
        .run(
            &ann(),
            Command::SetLeadTeam(commands::SetLeadTeam {
                lead,
                team: team.clone(),
            }),
        )
        .await;
    let deals = engine
        .deals_of_lead(&crate::testing::root(), lead)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen: Vec<_> = deals.iter().map(|d| (d.id, d.owner.clone(), d.team.clone())).collect();
    assert_eq!(
        seen,
        vec![(first, ann().user, team.clone()), (renewal, ann().user, team)],
        "both deals have the lead's owner and team"
    );
    let history = engine
        .history(&crate::testing::root(), crate::domain::entity::EntityRef::deal(first))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reassigned: Vec<_> = history
        .iter()
        .filter(|h| h.action == "reassign_lead")
        .filter_map(|h| h.change("owner"))
        .map(|c| (c.old.clone(), c.new.clone()))
        .collect();
    assert_eq!(
        reassigned,
        vec![(serde_json::json!("bob"), serde_json::json!("ann"))],
        "the deal's history records the reassignment"
    );
}
