//! Reference data: account types, lead phases, reasons, sources, priorities,
//! tags, custom field definitions and deal pipelines, validated as a whole.
//!
//! A [`Config`] is stored as one versioned document. [`Config::problems`] reports
//! every problem at once; [`Config::removed_items`] lists what a change would
//! remove, so the engine can refuse removing what data still uses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

use crate::domain::ids::{Code, UserId, code};
use crate::domain::money::Currency;

/// Seed 000: "Every funnel uses three phase types."
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhaseType {
    /// "Qualification / Initial phase": where every funnel starts.
    Initial,
    /// The steps between first contact and the decision.
    Regular,
    /// The final step; only here can a closing reason be recorded, and leads here leave the board.
    Closing,
}

/// Won or lost: the outcome of a closing reason or closing phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A successful close.
    Won,
    /// An unsuccessful close.
    Lost,
}

/// A classification of leads (seed 000 "account type", seed 003/004 "lead type": one concept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountType {
    /// Unique code.
    pub code: Code,
    /// Display name.
    pub name: String,
}

/// Names a phase: phases are unique by code within their account type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhaseRef {
    /// The account type the phase belongs to.
    pub account_type: Code,
    /// The phase's code.
    pub code: Code,
}

impl fmt::Display for PhaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account_type, self.code)
    }
}

/// A step of a funnel (seed 000 "lead phase"; seed 003/004 "lead status").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// The one account type this phase belongs to.
    pub account_type: Code,
    /// Code, unique within the account type.
    pub code: Code,
    /// A clear description (seed 000).
    pub description: String,
    /// Initial, regular or closing.
    pub phase_type: PhaseType,
    /// The funnel sequence; unique within the account type.
    pub order: u32,
    /// A lead that stays in this phase longer than this many days is "rotten" (stuck).
    #[serde(default)]
    pub rot_after_days: Option<u32>,
    /// On a closing phase only: `Lost` makes it the phase "configured as lost"
    /// that Disqualify / Lost moves a lead to (seed 003); `Won` makes it the phase
    /// a lead moves to when it is converted. At most one of each per account type.
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

impl Phase {
    /// The phase's reference.
    pub fn reference(&self) -> PhaseRef {
        PhaseRef {
            account_type: self.account_type.clone(),
            code: self.code.clone(),
        }
    }
}

/// Why a lead in a closing phase was closed (seed 000: Won, Lost, Competitor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClosingReason {
    /// Unique code.
    pub code: Code,
    /// Display label.
    pub label: String,
    /// Won or lost.
    pub outcome: Outcome,
    /// Choosing this reason without a note is refused (e.g. "Other").
    #[serde(default)]
    pub requires_note: bool,
}

/// A reason for Disqualify / Lost on a lead, or for losing a deal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LostReason {
    /// Unique code.
    pub code: Code,
    /// Display label.
    pub label: String,
    /// Choosing this reason without a note is refused (e.g. "Other").
    #[serde(default)]
    pub requires_note: bool,
}

/// Where leads come from (seed 002 "Lead Sources").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LeadSource {
    /// Unique code.
    pub code: Code,
    /// Display label.
    pub label: String,
}

/// A colour as `#RRGGBB`.
pub type Color = String;

/// Lead importance (seed 002: Urgent, High, Medium, Low, None), with a colour (seed 003).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Priority {
    /// Unique code.
    pub code: Code,
    /// Display label.
    pub label: String,
    /// Rank: 0 is the most urgent.
    pub rank: u32,
    /// `#RRGGBB`.
    pub color: Color,
}

/// A tag for grouping leads, with a colour (seed 004).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// Unique code.
    pub code: Code,
    /// Display label.
    pub label: String,
    /// `#RRGGBB`.
    pub color: Color,
}

/// The type of a custom field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CustomFieldKind {
    /// Free text.
    Text,
    /// A number.
    Number,
    /// A calendar date.
    Date,
    /// Yes or no.
    Bool,
    /// One of a fixed list of options.
    Choice {
        /// The allowed options.
        options: Vec<String>,
    },
}

/// A field an administrator adds to leads (seed 002 "custom fields").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomFieldDef {
    /// Unique name (a [`Code`]).
    pub name: Code,
    /// Display label.
    pub label: String,
    /// Its type.
    pub kind: CustomFieldKind,
    /// A lead cannot be saved without a value.
    #[serde(default)]
    pub required: bool,
}

/// Whether a deal stage is open, or closes the deal as won or lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// The deal is still being worked.
    Open,
    /// Reaching this stage wins the deal.
    Won,
    /// Reaching this stage loses the deal.
    Lost,
}

impl std::fmt::Display for StageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        })
    }
}

impl StageKind {
    /// The kind with its article, for messages: "an open", "a won".
    pub fn with_article(&self) -> &'static str {
        match self {
            Self::Open => "an open",
            Self::Won => "a won",
            Self::Lost => "a lost",
        }
    }
}

/// A stage of a deal pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Code, unique within the pipeline.
    pub code: Code,
    /// Display name.
    pub name: String,
    /// Open, won or lost.
    pub kind: StageKind,
    /// Default probability 0..=100 (won stages 100, lost stages 0).
    pub probability: u8,
}

/// An ordered list of deal stages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Unique code.
    pub code: Code,
    /// Display name.
    pub name: String,
    /// Exactly one pipeline is the default; Qualify creates deals at its first stage.
    pub default: bool,
    /// The stages in order; the first is open.
    pub stages: Vec<Stage>,
}

impl Pipeline {
    /// The stage with this code.
    pub fn stage(&self, code: &Code) -> Option<&Stage> {
        self.stages.iter().find(|s| &s.code == code)
    }

    /// The first stage of a kind.
    pub fn first_of(&self, kind: StageKind) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == kind)
    }
}

/// What phases an account type with no phases of its own may use (seed 003:
/// "if a type has no status list configured, then (depending on settings) all
/// statuses can be allowed").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnphasedAccountTypes {
    /// Leads of such a type have no phase. (Default.)
    #[default]
    NoPhases,
    /// Leads of such a type may be moved to any configured phase.
    AllowAllPhases,
}

/// Global settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Region for phone numbers entered without a country prefix (ISO 3166 alpha-2).
    pub default_phone_region: String,
    /// Currency used when an amount arrives without one.
    pub default_currency: Currency,
    /// See [`UnphasedAccountTypes`].
    #[serde(default)]
    pub unphased_account_types: UnphasedAccountTypes,
    /// Which leads and deals each role sees (see [`Visibility`]).
    #[serde(default)]
    pub visibility: VisibilityRules,
}

/// Which leads (and their deals, activities and history) a role sees. A
/// record outside what an actor sees does not exist for them: reads answer
/// `not_found`, lists, boards, reports and exports leave it out.
///
/// Seed 004 (Odoo) has the two ends as its sales groups, "own documents
/// only" and "all documents"; the middle steps follow its record and sales
/// teams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// The leads the actor owns.
    Own,
    /// The leads the actor owns and those whose record team they are on:
    /// exactly the leads they may change.
    OwnAndRecordTeam,
    /// Also the leads owned by anyone in a sales team the actor is in
    /// ([`Config::sales_teams`]).
    Team,
    /// Every lead.
    All,
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Own => "the leads it owns",
            Self::OwnAndRecordTeam => "the leads it owns or is on the record team of",
            Self::Team => "its sales teams' leads",
            Self::All => "every lead",
        })
    }
}

/// The [`Visibility`] of each role. The default lets a sales person see the
/// leads they work (own and record team) and managers and admins see all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VisibilityRules {
    /// What a sales person sees.
    pub sales_person: Visibility,
    /// What a manager sees.
    pub manager: Visibility,
    /// What an admin sees.
    pub admin: Visibility,
}

impl Default for VisibilityRules {
    fn default() -> Self {
        Self {
            sales_person: Visibility::OwnAndRecordTeam,
            manager: Visibility::All,
            admin: Visibility::All,
        }
    }
}

/// A sales team: users who see each other's leads under
/// [`Visibility::Team`] (seed 004's sales teams).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SalesTeam {
    /// Code.
    pub code: Code,
    /// Name shown to users.
    pub name: String,
    /// Its members.
    pub members: BTreeSet<UserId>,
}

/// All reference data, stored as one versioned document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Global settings.
    pub settings: Settings,
    /// Account types (lead types).
    pub account_types: Vec<AccountType>,
    /// Lead phases, each of one account type.
    pub phases: Vec<Phase>,
    /// Closing reasons, recorded in closing phases.
    pub closing_reasons: Vec<ClosingReason>,
    /// Reasons for Disqualify / Lost and for lost deals.
    pub lost_reasons: Vec<LostReason>,
    /// Lead sources.
    pub sources: Vec<LeadSource>,
    /// Priorities.
    pub priorities: Vec<Priority>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Custom lead fields.
    pub custom_fields: Vec<CustomFieldDef>,
    /// Deal pipelines.
    pub pipelines: Vec<Pipeline>,
    /// Sales teams (for [`Visibility::Team`]).
    #[serde(default)]
    pub sales_teams: Vec<SalesTeam>,
}

/// One rule a [`Config`] breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConfigProblem {
    /// Where: e.g. `phases[B2B/QUOTE]` or `pipelines[sales]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An item of reference data that existing records may use.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConfigItem {
    /// An account type.
    AccountType {
        /// Its code.
        code: Code,
    },
    /// A phase.
    Phase {
        /// Its reference.
        phase: PhaseRef,
    },
    /// A deal stage.
    Stage {
        /// The pipeline.
        pipeline: Code,
        /// The stage.
        stage: Code,
    },
    /// A pipeline.
    Pipeline {
        /// Its code.
        code: Code,
    },
    /// A closing reason.
    ClosingReason {
        /// Its code.
        code: Code,
    },
    /// A lost reason.
    LostReason {
        /// Its code.
        code: Code,
    },
    /// A lead source.
    Source {
        /// Its code.
        code: Code,
    },
    /// A priority.
    Priority {
        /// Its code.
        code: Code,
    },
    /// A tag.
    Tag {
        /// Its code.
        code: Code,
    },
    /// A custom field definition.
    CustomField {
        /// Its name.
        name: Code,
    },
}

impl fmt::Display for ConfigItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AccountType { code } => write!(f, "account type {code}"),
            Self::Phase { phase } => write!(f, "phase {phase}"),
            Self::Stage { pipeline, stage } => write!(f, "stage {pipeline}/{stage}"),
            Self::Pipeline { code } => write!(f, "pipeline {code}"),
            Self::ClosingReason { code } => write!(f, "closing reason {code}"),
            Self::LostReason { code } => write!(f, "lost reason {code}"),
            Self::Source { code } => write!(f, "lead source {code}"),
            Self::Priority { code } => write!(f, "priority {code}"),
            Self::Tag { code } => write!(f, "tag {code}"),
            Self::CustomField { name } => write!(f, "custom field {name}"),
        }
    }
}

fn is_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

impl Config {
    /// The account type with this code.
    pub fn account_type(&self, code: &Code) -> Option<&AccountType> {
        self.account_types.iter().find(|a| &a.code == code)
    }

    /// The phase with this reference.
    pub fn phase(&self, phase: &PhaseRef) -> Option<&Phase> {
        self.phases
            .iter()
            .find(|p| p.account_type == phase.account_type && p.code == phase.code)
    }

    /// The phases of one account type, in funnel order.
    pub fn phases_of(&self, account_type: &Code) -> Vec<&Phase> {
        let mut phases: Vec<&Phase> = self.phases.iter().filter(|p| &p.account_type == account_type).collect();
        phases.sort_by_key(|p| p.order);
        phases
    }

    /// The phases a lead of this account type may be in: its own, or (when it has
    /// none and the settings allow it) every phase.
    pub fn allowed_phases(&self, account_type: &Code) -> Vec<&Phase> {
        let own = self.phases_of(account_type);
        if own.is_empty() && self.settings.unphased_account_types == UnphasedAccountTypes::AllowAllPhases {
            let mut all: Vec<&Phase> = self.phases.iter().collect();
            all.sort_by(|a, b| (&a.account_type, a.order).cmp(&(&b.account_type, b.order)));
            all
        } else {
            own
        }
    }

    /// Where a new lead of this account type starts: the type's Initial phase, or
    /// no phase when the type has none of its own.
    pub fn initial_phase(&self, account_type: &Code) -> Option<&Phase> {
        self.phases_of(account_type)
            .into_iter()
            .find(|p| p.phase_type == PhaseType::Initial)
    }

    /// The closing phase of this account type with the given outcome, if configured.
    pub fn outcome_phase(&self, account_type: &Code, outcome: Outcome) -> Option<&Phase> {
        self.phases_of(account_type)
            .into_iter()
            .find(|p| p.phase_type == PhaseType::Closing && p.outcome == Some(outcome))
    }

    /// The default pipeline.
    pub fn default_pipeline(&self) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.default)
    }

    /// The pipeline with this code.
    pub fn pipeline(&self, code: &Code) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| &p.code == code)
    }

    /// The closing reason with this code.
    pub fn closing_reason(&self, code: &Code) -> Option<&ClosingReason> {
        self.closing_reasons.iter().find(|r| &r.code == code)
    }

    /// The lost reason with this code.
    pub fn lost_reason(&self, code: &Code) -> Option<&LostReason> {
        self.lost_reasons.iter().find(|r| &r.code == code)
    }

    /// The custom field definition with this name.
    pub fn custom_field(&self, name: &Code) -> Option<&CustomFieldDef> {
        self.custom_fields.iter().find(|f| &f.name == name)
    }

    /// Checks every rule and returns every problem found (empty: valid).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Problems::default();
        let size = serde_json::to_vec(self).map_or(usize::MAX, |json| json.len());
        if size > crate::domain::limits::CONFIG_BYTES {
            out.push(
                "configuration",
                format!(
                    "is {size} bytes as JSON; at most {} are allowed",
                    crate::domain::limits::CONFIG_BYTES
                ),
            );
        }

        if crate::domain::contact::validate_region(&self.settings.default_phone_region).is_err() {
            out.push(
                "settings.default_phone_region",
                format!("unknown region {:?}", self.settings.default_phone_region),
            );
        }

        out.codes(
            "account_types",
            self.account_types.iter().map(|a| (&a.code, a.name.as_str())),
        );
        self.phase_problems(&mut out);
        out.codes(
            "closing_reasons",
            self.closing_reasons.iter().map(|r| (&r.code, r.label.as_str())),
        );
        out.codes(
            "lost_reasons",
            self.lost_reasons.iter().map(|r| (&r.code, r.label.as_str())),
        );
        out.codes("sources", self.sources.iter().map(|r| (&r.code, r.label.as_str())));
        out.codes(
            "priorities",
            self.priorities.iter().map(|r| (&r.code, r.label.as_str())),
        );
        out.codes("tags", self.tags.iter().map(|r| (&r.code, r.label.as_str())));
        out.codes(
            "custom_fields",
            self.custom_fields.iter().map(|r| (&r.name, r.label.as_str())),
        );
        out.codes("pipelines", self.pipelines.iter().map(|r| (&r.code, r.name.as_str())));
        out.codes(
            "sales_teams",
            self.sales_teams.iter().map(|t| (&t.code, t.name.as_str())),
        );
        for t in &self.sales_teams {
            if t.members.len() > crate::domain::limits::SALES_TEAM {
                out.push(
                    format!("sales_teams[{}]", t.code),
                    format!(
                        "has {} members; at most {} are allowed",
                        t.members.len(),
                        crate::domain::limits::SALES_TEAM
                    ),
                );
            }
        }

        for p in &self.priorities {
            if !is_color(&p.color) {
                out.push(
                    format!("priorities[{}]", p.code),
                    format!("colour {:?} is not #RRGGBB", p.color),
                );
            }
        }
        for t in &self.tags {
            if !is_color(&t.color) {
                out.push(
                    format!("tags[{}]", t.code),
                    format!("colour {:?} is not #RRGGBB", t.color),
                );
            }
        }
        for f in &self.custom_fields {
            if let CustomFieldKind::Choice { options } = &f.kind {
                let distinct: BTreeSet<&String> = options.iter().collect();
                for o in options {
                    out.text(format!("custom_fields[{}]", f.name), "option", o);
                }
                if options.is_empty() || distinct.len() != options.len() || options.iter().any(|o| o.trim().is_empty())
                {
                    out.push(
                        format!("custom_fields[{}]", f.name),
                        "a choice needs at least one option, each non-empty and distinct".to_owned(),
                    );
                }
            }
        }
        self.pipeline_problems(&mut out);
        out.0
    }

    fn phase_problems(&self, out: &mut Problems) {
        let mut by_type: BTreeMap<&Code, Vec<&Phase>> = BTreeMap::new();
        for p in &self.phases {
            let path = format!("phases[{}]", p.reference());
            if self.account_type(&p.account_type).is_none() {
                out.push(&path, format!("unknown account type {}", p.account_type));
            }
            if p.description.trim().is_empty() {
                out.push(&path, "description is empty");
            }
            out.text(path.clone(), "description", &p.description);
            if p.outcome.is_some() && p.phase_type != PhaseType::Closing {
                out.push(&path, "only a closing phase can have an outcome");
            }
            if p.rot_after_days == Some(0) {
                out.push(&path, "rot_after_days must be at least 1");
            }
            if let Some(days) = p.rot_after_days
                && days > crate::domain::limits::DAYS
            {
                out.push(
                    &path,
                    format!("rot_after_days {days} is more than {}", crate::domain::limits::DAYS),
                );
            }
            by_type.entry(&p.account_type).or_default().push(p);
        }
        // Seed 000: one Initial phase, at least one Closing phase, order numbers set the sequence.
        // Phases of an unknown account type were reported above; their funnel is not checked.
        by_type.retain(|code, _| self.account_type(code).is_some());
        for (account_type, phases) in &by_type {
            let path = format!("account_types[{account_type}]");
            let mut codes = BTreeSet::new();
            let mut orders = BTreeSet::new();
            for p in phases {
                if !codes.insert(&p.code) {
                    out.push(&path, format!("phase code {} is used twice", p.code));
                }
                if !orders.insert(p.order) {
                    out.push(&path, format!("order number {} is used twice", p.order));
                }
            }
            let count = |t: PhaseType| phases.iter().filter(|p| p.phase_type == t).count();
            let initial = count(PhaseType::Initial);
            if initial != 1 {
                out.push(&path, format!("needs exactly one initial phase, has {initial}"));
            }
            if count(PhaseType::Closing) == 0 {
                out.push(&path, "needs at least one closing phase");
            }
            for outcome in [Outcome::Won, Outcome::Lost] {
                let n = phases.iter().filter(|p| p.outcome == Some(outcome)).count();
                if n > 1 {
                    out.push(
                        &path,
                        format!("{n} closing phases have outcome {outcome:?}; at most one may"),
                    );
                }
            }
        }
    }

    fn pipeline_problems(&self, out: &mut Problems) {
        let defaults = self.pipelines.iter().filter(|p| p.default).count();
        if defaults != 1 {
            out.push(
                "pipelines",
                format!("exactly one pipeline must be the default, found {defaults}"),
            );
        }
        for p in &self.pipelines {
            let path = format!("pipelines[{}]", p.code);
            let mut codes = BTreeSet::new();
            for s in &p.stages {
                if !codes.insert(&s.code) {
                    out.push(&path, format!("stage code {} is used twice", s.code));
                }
                out.text(format!("{path}.stages[{}]", s.code), "name", &s.name);
                if s.name.trim().is_empty() {
                    out.push(&path, format!("stage {} has no name", s.code));
                }
                let ok = match s.kind {
                    StageKind::Open => s.probability <= 100,
                    StageKind::Won => s.probability == 100,
                    StageKind::Lost => s.probability == 0,
                };
                if !ok {
                    out.push(
                        &path,
                        format!(
                            "stage {} has probability {}: open 0-100, won 100, lost 0",
                            s.code, s.probability
                        ),
                    );
                }
            }
            if p.stages.first().map(|s| s.kind) != Some(StageKind::Open) {
                out.push(
                    &path,
                    "the first stage must be an open stage (Qualify creates deals there)",
                );
            }
            for kind in [StageKind::Won, StageKind::Lost] {
                if p.first_of(kind).is_none() {
                    out.push(&path, format!("needs at least one {kind:?} stage"));
                }
            }
        }
    }

    /// The items present in `self` and absent from `next` (a phase whose type
    /// changes counts as removed).
    pub fn removed_items(&self, next: &Config) -> Vec<ConfigItem> {
        let mut out = Vec::new();
        for a in &self.account_types {
            if next.account_type(&a.code).is_none() {
                out.push(ConfigItem::AccountType { code: a.code.clone() });
            }
        }
        for p in &self.phases {
            // A phase whose type changes is removed and added again: leads in
            // it (and their closing reasons) must not be stranded.
            if next.phase(&p.reference()).is_none_or(|n| n.phase_type != p.phase_type) {
                out.push(ConfigItem::Phase { phase: p.reference() });
            }
        }
        for p in &self.pipelines {
            match next.pipeline(&p.code) {
                None => out.push(ConfigItem::Pipeline { code: p.code.clone() }),
                Some(np) => {
                    for s in &p.stages {
                        if np.stage(&s.code).is_none() {
                            out.push(ConfigItem::Stage {
                                pipeline: p.code.clone(),
                                stage: s.code.clone(),
                            });
                        }
                    }
                }
            }
        }
        let gone = |old: Vec<&Code>, new: Vec<&Code>| -> Vec<Code> {
            let new: BTreeSet<&Code> = new.into_iter().collect();
            old.into_iter().filter(|c| !new.contains(c)).cloned().collect()
        };
        for code in gone(
            self.closing_reasons.iter().map(|r| &r.code).collect(),
            next.closing_reasons.iter().map(|r| &r.code).collect(),
        ) {
            out.push(ConfigItem::ClosingReason { code });
        }
        for code in gone(
            self.lost_reasons.iter().map(|r| &r.code).collect(),
            next.lost_reasons.iter().map(|r| &r.code).collect(),
        ) {
            out.push(ConfigItem::LostReason { code });
        }
        for code in gone(
            self.sources.iter().map(|r| &r.code).collect(),
            next.sources.iter().map(|r| &r.code).collect(),
        ) {
            out.push(ConfigItem::Source { code });
        }
        for code in gone(
            self.priorities.iter().map(|r| &r.code).collect(),
            next.priorities.iter().map(|r| &r.code).collect(),
        ) {
            out.push(ConfigItem::Priority { code });
        }
        for code in gone(
            self.tags.iter().map(|r| &r.code).collect(),
            next.tags.iter().map(|r| &r.code).collect(),
        ) {
            out.push(ConfigItem::Tag { code });
        }
        for name in gone(
            self.custom_fields.iter().map(|r| &r.name).collect(),
            next.custom_fields.iter().map(|r| &r.name).collect(),
        ) {
            out.push(ConfigItem::CustomField { name });
        }
        out
    }

    /// The built-in defaults: one account type `default` with no phases, the
    /// closing reasons of seed 000, common lost reasons, the lead sources of seed
    /// 002, the priorities of seed 002 and one default pipeline. Hosts replace
    /// what they need and store it with the `set_config` command ([`SetConfig`](crate::commands::SetConfig)).
    pub fn default_with(region: &str, currency: Currency) -> Config {
        let reason = |c: &'static str, label: &str, outcome| ClosingReason {
            code: code(c),
            label: label.to_owned(),
            outcome,
            requires_note: false,
        };
        let lost = |c: &'static str, label: &str, requires_note| LostReason {
            code: code(c),
            label: label.to_owned(),
            requires_note,
        };
        let source = |c: &'static str, label: &str| LeadSource {
            code: code(c),
            label: label.to_owned(),
        };
        let priority = |c: &'static str, label: &str, rank, color: &str| Priority {
            code: code(c),
            label: label.to_owned(),
            rank,
            color: color.to_owned(),
        };
        let stage = |c: &'static str, name: &str, kind, probability| Stage {
            code: code(c),
            name: name.to_owned(),
            kind,
            probability,
        };
        Config {
            settings: Settings {
                default_phone_region: region.to_owned(),
                default_currency: currency,
                unphased_account_types: UnphasedAccountTypes::NoPhases,
                visibility: VisibilityRules::default(),
            },
            account_types: vec![AccountType {
                code: code("default"),
                name: "Default".to_owned(),
            }],
            phases: Vec::new(),
            closing_reasons: vec![
                reason("won", "Won", Outcome::Won),
                reason("lost", "Lost", Outcome::Lost),
                reason("competitor", "Competitor", Outcome::Lost),
            ],
            lost_reasons: vec![
                lost("no_budget", "No budget", false),
                lost("no_fit", "Not a fit", false),
                lost("competitor", "Went with a competitor", false),
                lost("unreachable", "Could not be reached", false),
                lost("other", "Other", true),
            ],
            sources: vec![
                source("web_form", "Web Form"),
                source("phone_inquiry", "Phone Inquiry"),
                source("email_campaign", "Email Campaign"),
                source("referral", "Referral"),
                source("partner", "Partner"),
                source("trade_show", "Trade Show / Event"),
                source("social_media", "Social Media"),
                source("cold_call", "Cold Call"),
                source("advertisement", "Advertisement"),
                source("other", "Other"),
            ],
            priorities: vec![
                priority("urgent", "Urgent", 0, "#D32F2F"),
                priority("high", "High", 1, "#F57C00"),
                priority("medium", "Medium", 2, "#FBC02D"),
                priority("low", "Low", 3, "#388E3C"),
                priority("none", "None", 4, "#9E9E9E"),
            ],
            tags: Vec::new(),
            custom_fields: Vec::new(),
            pipelines: vec![Pipeline {
                code: code("sales"),
                name: "Sales".to_owned(),
                default: true,
                stages: vec![
                    stage("prospecting", "Prospecting", StageKind::Open, 10),
                    stage("proposal", "Proposal Sent", StageKind::Open, 40),
                    stage("negotiation", "Negotiation", StageKind::Open, 70),
                    stage("won", "Closed Won", StageKind::Won, 100),
                    stage("lost", "Closed Lost", StageKind::Lost, 0),
                ],
            }],
            sales_teams: Vec::new(),
        }
    }
}

/// Collects problems with their paths.
#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn codes<'a>(&mut self, list: &str, items: impl Iterator<Item = (&'a Code, &'a str)>) {
        let mut seen = BTreeSet::new();
        for (code, label) in items {
            if !seen.insert(code) {
                self.push(format!("{list}[{code}]"), "duplicate code");
            }
            if label.trim().is_empty() {
                self.push(format!("{list}[{code}]"), "label is empty");
            }
            self.text(format!("{list}[{code}]"), "label", label);
        }
    }

    /// A single-line text within [`crate::domain::limits::LINE`].
    fn text(&mut self, path: String, field: &str, value: &str) {
        if let Err(e) = crate::domain::limits::check(
            field,
            value,
            crate::domain::limits::LINE,
            crate::domain::limits::Lines::Single,
        ) {
            self.push(path, e.to_string());
        }
    }
}
/// A refused configuration change.
#[derive(Clone, Debug, PartialEq, Eq, ThisError, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration breaks one or more rules; every problem is listed.
    #[error("invalid configuration ({} problems): {}", .problems.len(), .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// Every problem found, not only the first.
        problems: Vec<ConfigProblem>,
    },
    /// The change removes items that existing data still uses.
    #[error("configuration items still in use: {}", .uses.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InUse {
        /// Each removed item and what uses it.
        uses: Vec<ItemInUse>,
    },
    /// The change was prepared against an older configuration version.
    #[error("configuration changed meanwhile: expected version {expected}, found {found}")]
    Stale {
        /// The version the change was based on.
        expected: u64,
        /// The version stored now.
        found: u64,
    },
    /// No configuration has been stored yet.
    #[error("the store has no configuration yet; store one with the set_config command")]
    Missing,
}

/// A configuration item that a change would remove while data uses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ItemInUse {
    /// The item.
    pub item: ConfigItem,
    /// How many leads use it.
    pub leads: u64,
    /// How many deals use it.
    pub deals: u64,
    /// The numbers of a few of those leads.
    pub lead_examples: Vec<u64>,
    /// A few of those deals.
    pub deal_examples: Vec<crate::domain::ids::DealId>,
}

impl fmt::Display for ItemInUse {
    /// `tag vip is used by 2 leads (for example lead 1, lead 2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users = Vec::new();
        if self.leads > 0 {
            users.push(format!("{} leads", self.leads));
        }
        if self.deals > 0 {
            users.push(format!("{} deals", self.deals));
        }
        let examples: Vec<String> = self
            .lead_examples
            .iter()
            .map(|n| format!("lead {n}"))
            .chain(self.deal_examples.iter().map(|d| format!("deal {}", d.0)))
            .collect();
        write!(f, "{} is used by {}", self.item, users.join(" and "))?;
        if !examples.is_empty() {
            write!(f, " (for example {})", examples.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ItemInUse {}
