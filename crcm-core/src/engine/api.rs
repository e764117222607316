//! One entry point for every caller: a [`Request`] names a command or a read
//! and the actor who asks; [`Engine::handle`] answers it with a [`Response`].
//! [`Engine::handle_json`] does the same on JSON text and answers with an
//! envelope, never with a panic or an untyped error: it is what the C ABI,
//! the `crcm` tool and any server speak.
//!
//! ## The wire form
//!
//! A request is one JSON object: the actor, the request's `type` (a command's
//! name such as `create_lead`, or a read such as `list_leads`), and the
//! fields of that type, side by side. `wire` is optional; when given it must
//! be [`WIRE_VERSION`].
//!
//! ```json
//! {"wire": 1, "actor": {"user": "ann", "role": "sales_person"},
//!  "type": "get_lead_by_number", "number": 7}
//! ```
//!
//! The answer is an envelope holding the wire version and either `ok` (the
//! [`Response`], tagged by its own `type`) or `error` (an
//! [`ErrorReport`]: code, kind, name, message, details):
//!
//! ```json
//! {"wire": 1, "ok": {"type": "lead", "lead": {"number": 7, ...}}}
//! {"wire": 1, "error": {"code": 3002, "kind": "not_found", "name": "lead_number_not_found", ...}}
//! ```
//!
//! Request fields are checked strictly: an unknown field, a missing one or
//! a value of the wrong type is `malformed_request` (1018) with the JSON
//! path of the culprit; a request over [`MAX_REQUEST_BYTES`] is
//! `request_too_large` (1019); another `wire` is `unsupported_wire_version`
//! (1020). Nothing runs for a request that is not read whole.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::activity::{Activity, Communication, FollowUp, Subject};
use crate::domain::config::Config;
use crate::domain::customer::Customer;
use crate::domain::deal::Deal;
use crate::domain::entity::EntityRef;
use crate::domain::error::{InputError, take_refusal};
use crate::domain::event::EventEnvelope;
use crate::domain::failure::{ImportFailure, RequestError};
use crate::domain::history::HistoryEntry;
use crate::domain::ids::{Code, CommunicationId, CustomerId, DealId, LeadId, UserId};
use crate::domain::lead::Lead;
use crate::engine::Engine;
use crate::engine::board::{Board, BoardQuery, DealBoard};
use crate::engine::bulk::{BulkAction, BulkReport, BulkTarget};
use crate::engine::commands::*;
use crate::engine::import::{ImportOptions, ImportReport, ImportRevert};
use crate::engine::intake::{CommunicationMatches, DuplicateGroup, DuplicateKey};
use crate::engine::query::{CustomerQuery, DealQuery, LeadQuery};
use crate::engine::reports::{
    DataQuality, ForecastRow, Funnel, Interval, PhaseTimeRow, ReasonRow, SourceRow, TrendPeriod, TrendRow, WorkloadRow,
};
use crate::rules::access::Actor;
use crate::rules::error::{Error, ErrorReport};
use crate::store::{CommitReceipt, CommunicationFilter, Page, PageRequest};

/// The wire version this crcm speaks: the JSON form of requests, responses,
/// records, events and errors. It changes only when a form changes in a way
/// an existing client could misread.
pub const WIRE_VERSION: u32 = 1;

/// The largest request [`Engine::handle_json`] reads (8 MiB). Import larger
/// files by path ([`ImportSource::File`]).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// A request: who asks, and what.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Who asks: every command and every read is the actor's.
    pub actor: Actor,
    /// What is asked.
    pub body: Body,
}

impl Request {
    /// A request of `actor`.
    pub fn new(actor: Actor, body: impl Into<Body>) -> Self {
        Self {
            actor,
            body: body.into(),
        }
    }

    /// Reads a request from its JSON text, strictly (see the
    /// [module docs](self)).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        if text.len() > MAX_REQUEST_BYTES {
            return Err(RequestError::TooLarge {
                bytes: text.len(),
                max: MAX_REQUEST_BYTES,
            }
            .into());
        }
        let value: Value = serde_json::from_str(text).map_err(|e| malformed(".", e.to_string()))?;
        Self::from_value(value)
    }

    /// Reads a request from its JSON value, strictly.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Object(mut map) = value else {
            return Err(malformed(".", "a request is a JSON object").into());
        };
        if let Some(wire) = map.remove("wire") {
            let Some(given) = wire.as_u64() else {
                return Err(malformed("wire", "the wire version is a whole number").into());
            };
            if given != u64::from(WIRE_VERSION) {
                return Err(RequestError::UnsupportedWire {
                    given,
                    supported: WIRE_VERSION,
                }
                .into());
            }
        }
        let actor = map
            .remove("actor")
            .ok_or_else(|| malformed("actor", "missing field `actor`"))?;
        let actor: Actor = decode(actor, "actor.")?;
        let name = match map.remove("type") {
            Some(Value::String(name)) => name,
            Some(_) => return Err(malformed("type", "the request type is a string").into()),
            None => return Err(malformed("type", "missing field `type`").into()),
        };
        let body = Body::from_fields(&name, map)?;
        Ok(Self { actor, body })
    }

    /// The request's JSON value: `wire`, `actor`, `type` and the fields.
    pub fn to_value(&self) -> Value {
        let mut map = match self.body.fields() {
            Value::Object(map) => map,
            // Every body is a struct; an empty one has no fields.
            _ => Map::new(),
        };
        map.insert("type".into(), Value::String(self.body.name().to_owned()));
        map.insert("actor".into(), serde_json::to_value(&self.actor).unwrap_or(Value::Null));
        map.insert("wire".into(), Value::from(WIRE_VERSION));
        Value::Object(map)
    }
}

impl Serialize for Request {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

fn malformed(path: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::Malformed {
        path: path.into(),
        message: message.into(),
    }
}

/// Deserializes `value`, naming the path of the first problem (`prefix`
/// comes before it: `actor.` for the actor's fields).
/// A value crcm checks when it reads it (a code, an id, an e-mail, a
/// probability) answers with its own code and the path; anything else is
/// `malformed_request`.
fn decode<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, Error> {
    // Forget a refusal left by a read outside a request.
    let _ = take_refusal();
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = match (prefix, path.as_str()) {
            ("", p) => p.to_owned(),
            (pre, ".") => pre.trim_end_matches('.').to_owned(),
            (pre, p) => format!("{pre}{p}"),
        };
        match take_refusal() {
            Some(error) => InputError::At {
                path,
                error: Box::new(error),
            }
            .into(),
            None => malformed(path, e.into_inner().to_string()).into(),
        }
    })
}

/// Declares [`Body`] from the command list (one variant per command, named
/// and shaped as the command) and the reads below.
macro_rules! request_body {
    ($($command:ident),* $(,)?) => {
        request_body!(@emit [$($command),*] [
            GetConfig = "get_config",
            GetLead = "get_lead",
            GetLeadByNumber = "get_lead_by_number",
            GetDeal = "get_deal",
            GetCustomer = "get_customer",
            ListLeads = "list_leads",
            ListCustomers = "list_customers",
            ListDeals = "list_deals",
            ListCommunications = "list_communications",
            DealsOfLead = "deals_of_lead",
            ShowBoard = "board",
            ShowDealBoard = "deal_board",
            ReportSources = "report_sources",
            ReportFunnel = "report_funnel",
            ReportTimeInPhase = "report_time_in_phase",
            ReportReasons = "report_reasons",
            ReportWorkload = "report_workload",
            ReportStuck = "report_stuck",
            ReportDataQuality = "report_data_quality",
            ReportForecast = "report_forecast",
            ReportTrend = "report_trend",
            GetHistory = "history",
            GetLeadHistory = "lead_history",
            ListActivities = "activities",
            ListFollowUps = "follow_ups",
            CommunicationsOfLead = "communications_of_lead",
            EventsSince = "events_since",
            FindDuplicates = "duplicates",
            FindDuplicateGroups = "duplicate_groups",
            CustomerCandidates = "customer_candidates",
            MatchCommunication = "communication_matches",
            Bulk = "bulk",
            Import = "import",
            RevertImport = "revert_import",
            Export = "export",
        ]);
    };
    (@emit [$($command:ident),*] [$($read:ident = $name:literal),* $(,)?]) => {
        /// What a [`Request`] asks: every command (named as the command:
        /// `create_lead`, ...) and every read (`get_lead`, `list_leads`,
        /// `board`, `report_funnel`, ...). Its JSON `type` is
        /// [`Body::name`].
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        // A request is built, handled and dropped; boxing would only add allocations.
        #[allow(clippy::large_enum_variant)]
        pub enum Body {
            $(
                #[doc = concat!("The command [`", stringify!($command), "`].")]
                $command($command),
            )*
            $(
                #[doc = concat!("`", $name, "`: [`", stringify!($read), "`].")]
                $read($read),
            )*
        }

        $(
            impl From<$command> for Body {
                fn from(command: $command) -> Self {
                    Self::$command(command)
                }
            }
        )*
        $(
            impl From<$read> for Body {
                fn from(read: $read) -> Self {
                    Self::$read(read)
                }
            }
        )*

        impl Body {
            /// Every request type's name, commands first.
            pub const NAMES: &'static [&'static str] = &[
                $(<$command as TypedCommand>::NAME,)*
                $($name,)*
            ];

            /// The request's JSON `type`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$command(_) => <$command as TypedCommand>::NAME,)*
                    $(Self::$read(_) => $name,)*
                }
            }

            /// The schema of each request type's body, by its name.
            #[cfg(feature = "schema")]
            pub(crate) fn schemas(generator: &mut schemars::SchemaGenerator) -> Vec<(&'static str, schemars::Schema)> {
                vec![
                    $((<$command as TypedCommand>::NAME, <$command as schemars::JsonSchema>::json_schema(generator)),)*
                    $(($name, <$read as schemars::JsonSchema>::json_schema(generator)),)*
                ]
            }

            /// True for a command (a request that may change the store).
            pub fn is_command(&self) -> bool {
                match self {
                    $(Self::$command(_) => true,)*
                    Self::Bulk(_) | Self::Import(_) | Self::RevertImport(_) => true,
                    _ => false,
                }
            }

            fn fields(&self) -> Value {
                let value = match self {
                    $(Self::$command(body) => serde_json::to_value(body),)*
                    $(Self::$read(body) => serde_json::to_value(body),)*
                };
                value.unwrap_or(Value::Null)
            }

            fn from_fields(name: &str, fields: Map<String, Value>) -> Result<Self, Error> {
                let fields = Value::Object(fields);
                $(
                    if name == <$command as TypedCommand>::NAME {
                        return decode(fields, "").map(Self::$command);
                    }
                )*
                match name {
                    $($name => decode(fields, "").map(Self::$read),)*
                    other => Err(malformed("type", format!("unknown request type {:?}", shorten(other))).into()),
                }
            }

            /// The command, for a command body.
            fn command(&self) -> Option<Command> {
                match self {
                    $(Self::$command(c) => Some(Command::$command(c.clone())),)*
                    _ => None,
                }
            }
        }
    };
}
for_each_command!(request_body);

/// A boxed future whose panic, while it is polled, becomes `Err` with the
/// panic's message instead of unwinding into the caller.
struct CatchPanic<'a, T>(std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>);

impl<T> std::future::Future for CatchPanic<'_, T> {
    type Output = Result<T, String>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let inner = &mut self.0;
        // The future is dropped after a panic, never polled again, so state it
        // left half-changed is not observed.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                Poll::Ready(Err(format!("crcm panicked: {message}")))
            }
        }
    }
}

/// A file that could not be opened, created or written, as `import_io`.
fn io_failure(e: std::io::Error) -> Error {
    Error::Import(ImportFailure::Io { message: e.to_string() })
}

/// At most 100 characters of a name, for a message about it.
fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

/// `get_config`: the configuration in force and its version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GetConfig {}

/// `get_lead`: a lead by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GetLead {
    /// The lead.
    pub id: LeadId,
}

/// `get_lead_by_number`: a lead by its number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GetLeadByNumber {
    /// The lead number.
    pub number: u64,
}

/// `get_deal`: a deal by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GetDeal {
    /// The deal.
    pub id: DealId,
}

/// `get_customer`: a customer by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GetCustomer {
    /// The customer.
    pub id: CustomerId,
}

/// `list_leads`: a page of leads (see [`LeadQuery`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ListLeads {
    /// Filters, search, sort and page.
    pub query: LeadQuery,
}

/// `list_customers`: a page of customers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ListCustomers {
    /// Filters, search and page.
    pub query: CustomerQuery,
}

/// `list_deals`: a page of deals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ListDeals {
    /// Filters, search, sort and page.
    pub query: DealQuery,
}

/// `list_communications`: a page of inbound communications, arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ListCommunications {
    /// Which ones.
    pub filter: CommunicationFilter,
    /// Which page.
    pub page: PageRequest,
}

/// `deals_of_lead`: the deals created from a lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DealsOfLead {
    /// The lead.
    pub lead: LeadId,
}

/// `board`: the board of an account type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ShowBoard {
    /// Which board.
    pub query: BoardQuery,
}

/// `deal_board`: the deal board of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ShowDealBoard {
    /// The pipeline.
    pub pipeline: Code,
    /// Only this owner's deals.
    #[serde(default)]
    pub owner: Option<UserId>,
}

/// `report_sources`: created, qualified, converted and lost leads per source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ReportSources {
    /// The leads created in this interval.
    pub interval: Interval,
}

/// `report_funnel`: how many leads reached each phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportFunnel {
    /// The account type.
    pub account_type: Code,
    /// The leads created in this interval.
    #[serde(default)]
    pub interval: Interval,
}

/// `report_time_in_phase`: how long leads stay in each phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportTimeInPhase {
    /// The account type.
    pub account_type: Code,
    /// The stays that ended in this interval.
    #[serde(default)]
    pub interval: Interval,
}

/// `report_reasons`: closing and lost reasons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ReportReasons {
    /// The leads closed in this interval.
    pub interval: Interval,
}

/// `report_trend`: leads created and closed per day, week or month.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ReportTrend {
    /// The periods covered (no start: from the first lead; no end: to now).
    pub interval: Interval,
    /// Day, week or month (default).
    pub period: TrendPeriod,
}

/// `report_workload`: open and rotten leads and overdue follow-ups per owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportWorkload {}

/// `report_stuck`: open leads at least `days` in their phase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportStuck {
    /// Days in the phase.
    pub days: u32,
    /// Which page.
    #[serde(default)]
    pub page: PageRequest,
}

/// `report_data_quality`: open leads missing what the daily routine asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportDataQuality {}

/// `report_forecast`: open deals per stage, weighted by probability.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ReportForecast {
    /// One pipeline, or all.
    pub pipeline: Option<Code>,
}

/// `history`: a record's history, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GetHistory {
    /// The record.
    pub entity: EntityRef,
}

/// `lead_history`: a lead's history with that of the leads merged into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GetLeadHistory {
    /// The lead.
    pub lead: LeadId,
}

/// `activities`: the activities logged on a lead or deal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ListActivities {
    /// The lead or deal.
    pub subject: Subject,
}

/// `follow_ups`: the follow-ups of a lead or deal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ListFollowUps {
    /// The lead or deal.
    pub subject: Subject,
}

/// `communications_of_lead`: the communications attached to a lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CommunicationsOfLead {
    /// The lead.
    pub lead: LeadId,
}

/// `events_since`: the event outbox after a sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EventsSince {
    /// Events after this sequence number (0: from the start).
    #[serde(default)]
    pub cursor: u64,
    /// At most this many.
    #[serde(default = "default_events")]
    pub limit: usize,
}

fn default_events() -> usize {
    100
}

/// `duplicates`: open leads duplicating a lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FindDuplicates {
    /// The lead.
    pub lead: LeadId,
    /// By these keys (default: all).
    #[serde(default)]
    pub keys: Option<Vec<DuplicateKey>>,
}

/// `duplicate_groups`: groups of open leads sharing a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FindDuplicateGroups {
    /// The key.
    pub key: DuplicateKey,
}

/// `customer_candidates`: customers matching a lead's e-mail or phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerCandidates {
    /// The lead.
    pub lead: LeadId,
}

/// `communication_matches`: the leads and customers an inbound
/// communication's sender matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MatchCommunication {
    /// The communication.
    pub communication: CommunicationId,
}

/// `bulk`: one action on many leads, each in its own unit of work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Bulk {
    /// Which leads.
    pub target: BulkTarget,
    /// What to do to each.
    pub action: BulkAction,
}

/// Where an import reads its CSV.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ImportSource {
    /// A file on the host (`{"file": "leads.csv"}`).
    File(PathBuf),
    /// The CSV text itself (`{"text": "contact_name,phone\n..."}`).
    Text(String),
}

/// `import`: leads from CSV.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Import {
    /// The CSV.
    pub source: ImportSource,
    /// Mapping, mode, account type, batch size, id and resume.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(transform = crate::engine::import::options::drawn_when_absent))]
    pub options: ImportOptions,
}

/// `revert_import`: delete the leads an import created that nobody changed
/// since (admin; see [`crate::engine::import::revert`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RevertImport {
    /// The import ([`ImportOptions::id`](crate::engine::import::ImportOptions::id),
    /// [`ImportReport::id`]).
    pub id: crate::domain::ids::ImportId,
}

/// `export`: the leads a query selects, as CSV in the import's columns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Export {
    /// Which leads.
    pub query: LeadQuery,
    /// Write to this file on the host; `None`: the CSV is in the response.
    pub file: Option<PathBuf>,
}

/// What a request returns, tagged by `type`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Response {
    /// A command ran: its output and its commit.
    Executed {
        /// What the command returned.
        output: CommandOutput,
        /// The commit (`null` when the command changed nothing).
        receipt: Option<CommitReceipt>,
    },
    /// The configuration in force.
    Config {
        /// The configuration.
        config: Box<Config>,
        /// Its version.
        version: u64,
    },
    /// A lead.
    Lead {
        /// The lead.
        lead: Box<Lead>,
    },
    /// A deal.
    Deal {
        /// The deal.
        deal: Box<Deal>,
    },
    /// A customer.
    Customer {
        /// The customer.
        customer: Box<Customer>,
    },
    /// A page of leads.
    LeadPage {
        /// The page.
        page: Page<Lead>,
    },
    /// A page of customers.
    CustomerPage {
        /// The page.
        page: Page<Customer>,
    },
    /// A page of deals.
    DealPage {
        /// The page.
        page: Page<Deal>,
    },
    /// A page of communications.
    CommunicationPage {
        /// The page.
        page: Page<Communication>,
    },
    /// Leads (duplicates).
    Leads {
        /// The leads.
        leads: Vec<Lead>,
    },
    /// Deals (of a lead).
    Deals {
        /// The deals.
        deals: Vec<Deal>,
    },
    /// Customers (candidates).
    Customers {
        /// The customers.
        customers: Vec<Customer>,
    },
    /// Communications (of a lead).
    Communications {
        /// The communications.
        communications: Vec<Communication>,
    },
    /// A board.
    Board {
        /// The board.
        board: Board,
    },
    /// A deal board.
    DealBoard {
        /// The board.
        board: DealBoard,
    },
    /// The sources report.
    Sources {
        /// One row per source.
        rows: Vec<SourceRow>,
    },
    /// The funnel report.
    Funnel {
        /// The funnel.
        funnel: Funnel,
    },
    /// The time-in-phase report.
    TimeInPhase {
        /// One row per phase.
        rows: Vec<PhaseTimeRow>,
    },
    /// The reasons report.
    Reasons {
        /// One row per reason.
        rows: Vec<ReasonRow>,
    },
    /// The workload report.
    Workload {
        /// One row per owner.
        rows: Vec<WorkloadRow>,
    },
    /// The trend report.
    Trend {
        /// One row per period, oldest first.
        rows: Vec<TrendRow>,
    },
    /// The data-quality report.
    DataQuality {
        /// The report.
        report: DataQuality,
    },
    /// The forecast report.
    Forecast {
        /// One row per pipeline stage and currency.
        rows: Vec<ForecastRow>,
    },
    /// History entries, oldest first.
    History {
        /// The entries.
        entries: Vec<HistoryEntry>,
    },
    /// Activities.
    Activities {
        /// The activities.
        activities: Vec<Activity>,
    },
    /// Follow-ups.
    FollowUps {
        /// The follow-ups.
        follow_ups: Vec<FollowUp>,
    },
    /// Events of the outbox, in sequence order.
    Events {
        /// The events.
        events: Vec<EventEnvelope>,
    },
    /// Duplicate groups.
    DuplicateGroups {
        /// The groups.
        groups: Vec<DuplicateGroup>,
    },
    /// What a communication's sender matches.
    CommunicationMatches {
        /// The matches.
        matches: CommunicationMatches,
    },
    /// What a bulk action did.
    Bulk {
        /// One line per lead.
        report: BulkReport,
    },
    /// What an import did.
    Import {
        /// The import's report.
        report: ImportReport,
    },
    /// What reverting an import did.
    RevertImport {
        /// The leads removed and kept.
        report: ImportRevert,
    },
    /// What an export wrote.
    Export {
        /// Leads written.
        written: u64,
        /// The CSV, when no file was named.
        csv: Option<String>,
    },
}

/// What [`Engine::handle_json`] answers: the wire version and either the
/// response or the error.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Envelope {
    /// [`WIRE_VERSION`].
    pub wire: u32,
    /// The response, on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<Response>,
    /// The error, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

impl Envelope {
    /// The envelope of a handled request.
    pub fn of(result: Result<Response, Error>) -> Self {
        match result {
            Ok(response) => Self {
                wire: WIRE_VERSION,
                ok: Some(response),
                error: None,
            },
            Err(error) => Self::error(&error),
        }
    }

    /// The envelope of an error.
    pub fn error(error: &Error) -> Self {
        Self {
            wire: WIRE_VERSION,
            ok: None,
            error: Some(error.report()),
        }
    }

    /// The envelope's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            // A response that cannot be written is a bug; say so in the wire form.
            let error = Error::Request(RequestError::Internal {
                message: format!("the response could not be written as JSON: {e}"),
            });
            serde_json::to_string(&Self::error(&error)).unwrap_or_default()
        })
    }
}

impl Engine {
    /// Answers a request: runs its command, or reads what it asks, as its
    /// actor.
    pub async fn handle(&self, request: &Request) -> Result<Response, Error> {
        let actor = &request.actor;
        if let Some(command) = request.body.command() {
            // Boxed: the dispatch over every command is a large future.
            let done = Box::pin(self.execute_detailed(actor, command)).await?;
            return Ok(Response::Executed {
                output: done.output,
                receipt: done.receipt,
            });
        }
        Ok(match &request.body {
            Body::GetConfig(GetConfig {}) => {
                let (config, version) = self.config().await?;
                Response::Config {
                    config: Box::new(config),
                    version,
                }
            }
            Body::GetLead(r) => Response::Lead {
                lead: Box::new(self.lead(actor, r.id).await?),
            },
            Body::GetLeadByNumber(r) => Response::Lead {
                lead: Box::new(self.lead_by_number(actor, r.number).await?),
            },
            Body::GetDeal(r) => Response::Deal {
                deal: Box::new(self.deal(actor, r.id).await?),
            },
            Body::GetCustomer(r) => Response::Customer {
                customer: Box::new(self.customer(actor, r.id).await?),
            },
            Body::ListLeads(r) => Response::LeadPage {
                page: self.leads(actor, &r.query).await?,
            },
            Body::ListCustomers(r) => Response::CustomerPage {
                page: self.customers(actor, &r.query).await?,
            },
            Body::ListDeals(r) => Response::DealPage {
                page: self.deals(actor, &r.query).await?,
            },
            Body::ListCommunications(r) => Response::CommunicationPage {
                page: self.communications(actor, &r.filter, &r.page).await?,
            },
            Body::DealsOfLead(r) => Response::Deals {
                deals: self.deals_of_lead(actor, r.lead).await?,
            },
            Body::ShowBoard(r) => Response::Board {
                board: self.board(actor, &r.query).await?,
            },
            Body::ShowDealBoard(r) => Response::DealBoard {
                board: self.deal_board(actor, &r.pipeline, r.owner.as_ref()).await?,
            },
            Body::ReportSources(r) => Response::Sources {
                rows: self.report_sources(actor, &r.interval).await?,
            },
            Body::ReportFunnel(r) => Response::Funnel {
                funnel: self.report_funnel(actor, &r.account_type, &r.interval).await?,
            },
            Body::ReportTimeInPhase(r) => Response::TimeInPhase {
                rows: self.report_time_in_phase(actor, &r.account_type, &r.interval).await?,
            },
            Body::ReportReasons(r) => Response::Reasons {
                rows: self.report_reasons(actor, &r.interval).await?,
            },
            Body::ReportWorkload(ReportWorkload {}) => Response::Workload {
                rows: self.report_workload(actor).await?,
            },
            Body::ReportTrend(r) => Response::Trend {
                rows: self.report_trend(actor, &r.interval, r.period).await?,
            },
            Body::ReportStuck(r) => Response::LeadPage {
                page: self.report_stuck(actor, r.days, &r.page).await?,
            },
            Body::ReportDataQuality(ReportDataQuality {}) => Response::DataQuality {
                report: self.report_data_quality(actor).await?,
            },
            Body::ReportForecast(r) => Response::Forecast {
                rows: self.report_forecast(actor, r.pipeline.as_ref()).await?,
            },
            Body::GetHistory(r) => Response::History {
                entries: self.history(actor, r.entity).await?,
            },
            Body::GetLeadHistory(r) => Response::History {
                entries: self.lead_history(actor, r.lead).await?,
            },
            Body::ListActivities(r) => Response::Activities {
                activities: self.activities(actor, r.subject).await?,
            },
            Body::ListFollowUps(r) => Response::FollowUps {
                follow_ups: self.follow_ups(actor, r.subject).await?,
            },
            Body::CommunicationsOfLead(r) => Response::Communications {
                communications: self.communications_of(actor, r.lead).await?,
            },
            Body::EventsSince(r) => Response::Events {
                events: self.events_since(actor, r.cursor, r.limit).await?,
            },
            Body::FindDuplicates(r) => Response::Leads {
                leads: match &r.keys {
                    Some(keys) => self.duplicates_by(actor, r.lead, keys).await?,
                    None => self.duplicates(actor, r.lead).await?,
                },
            },
            Body::FindDuplicateGroups(r) => Response::DuplicateGroups {
                groups: self.duplicate_groups(actor, r.key).await?,
            },
            Body::CustomerCandidates(r) => Response::Customers {
                customers: self.customer_candidates(actor, r.lead).await?,
            },
            Body::MatchCommunication(r) => Response::CommunicationMatches {
                matches: self.communication_matches(actor, r.communication).await?,
            },
            Body::Bulk(r) => Response::Bulk {
                report: self.bulk(actor, &r.target, &r.action).await?,
            },
            Body::Import(r) => Response::Import {
                report: self.import_from(actor, r).await?,
            },
            Body::RevertImport(r) => Response::RevertImport {
                report: self.revert_import(actor, r.id).await?,
            },
            Body::Export(r) => self.export_to(actor, r).await?,
            // Commands were answered above.
            other => {
                return Err(RequestError::Internal {
                    message: format!("request type {} has no handler", other.name()),
                }
                .into());
            }
        })
    }

    /// Answers a request in its JSON text with the JSON text of an
    /// [`Envelope`]: the response, or the error with its code. Whatever the
    /// text, the answer is an envelope.
    ///
    /// A panic inside crcm (a bug) does not unwind into the caller: it is
    /// answered as `internal` (8002) with the panic's message.
    pub async fn handle_json(&self, text: &str) -> String {
        let result = match Request::from_json(text) {
            // Boxed: the dispatch over every request type is a large future.
            Ok(request) => match (CatchPanic(Box::pin(self.handle(&request)))).await {
                Ok(result) => result,
                Err(message) => Err(Error::Request(RequestError::Internal { message })),
            },
            Err(e) => Err(e),
        };
        Envelope::of(result).to_json()
    }

    /// [`Engine::handle_json`] on bytes: text that is not UTF-8 is
    /// `malformed_request`.
    pub async fn handle_json_bytes(&self, bytes: &[u8]) -> String {
        if bytes.len() > MAX_REQUEST_BYTES {
            let error = Error::Request(RequestError::TooLarge {
                bytes: bytes.len(),
                max: MAX_REQUEST_BYTES,
            });
            return Envelope::error(&error).to_json();
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => self.handle_json(text).await,
            Err(e) => {
                let error = Error::Request(malformed(".", format!("the request is not UTF-8: {e}")));
                Envelope::error(&error).to_json()
            }
        }
    }

    async fn import_from(&self, actor: &Actor, r: &Import) -> Result<ImportReport, Error> {
        let report = match &r.source {
            ImportSource::File(path) => {
                let file = std::fs::File::open(path).map_err(io_failure)?;
                self.import_leads(actor, std::io::BufReader::new(file), &r.options, &mut ())
                    .await?
            }
            ImportSource::Text(text) => {
                self.import_leads(actor, std::io::Cursor::new(text.as_bytes()), &r.options, &mut ())
                    .await?
            }
        };
        Ok(report)
    }

    async fn export_to(&self, actor: &Actor, r: &Export) -> Result<Response, Error> {
        match &r.file {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(io_failure)?;
                let mut out = std::io::BufWriter::new(file);
                let written = self.export_leads(actor, &r.query, &mut out).await?;
                std::io::Write::flush(&mut out).map_err(io_failure)?;
                Ok(Response::Export { written, csv: None })
            }
            None => {
                let mut out = Vec::new();
                let written = self.export_leads(actor, &r.query, &mut out).await?;
                let csv = String::from_utf8(out).map_err(|e| {
                    Error::Request(RequestError::Internal {
                        message: format!("the export is not UTF-8: {e}"),
                    })
                })?;
                Ok(Response::Export {
                    written,
                    csv: Some(csv),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_handling_becomes_an_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let caught = runtime.block_on(CatchPanic(Box::pin(async {
            if Some(1).is_some() {
                panic!("boom");
            }
            7
        })));
        assert_eq!(caught, Err("crcm panicked: boom".to_owned()));
        let fine = runtime.block_on(CatchPanic(Box::pin(async { 7 })));
        assert_eq!(fine, Ok(7));
    }
}
