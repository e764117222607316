//! The story of the manuals, shared by the examples: configure the funnel,
//! work leads as two sales people and a manager, then print the board, one
//! lead's history and the event outbox. It needs an empty store.

use crcm::commands;
use crcm::domain::input::{CustomerChoice, DealDraft, NewCustomer};
use crcm::engine::board::BoardQuery;
use crcm::{
    Actor, Code, Config, Currency, DomainEvent, Engine, EntityRef, LeadFilter, LeadQuery, LeadStatus, Money, NewLead,
    PageRequest, PhaseRef, Role, UserId,
};

/// The examples' result type.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn code(s: &str) -> Result<Code> {
    Ok(Code::new(s)?)
}

fn phase(c: &str) -> Result<PhaseRef> {
    Ok(PhaseRef {
        account_type: code("business")?,
        code: code(c)?,
    })
}

/// Seed 000's simple funnel: Call appointment -> Send Quote -> Closed, with
/// the default deal pipeline. The C and Python clients load the same file.
fn funnel() -> Result<Config> {
    Ok(serde_json::from_str(include_str!("config.json"))?)
}

/// A history value as a person reads it: text unquoted, a phase by its code.
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) if m.contains_key("code") => m["code"].as_str().unwrap_or("?").to_owned(),
        _ => v.to_string(),
    }
}

fn say(step: &str) {
    println!("\n== {step}");
}

/// Tells the story on `engine`, whose store must be empty.
pub async fn run(engine: &Engine) -> Result<()> {
    if engine.config().await.is_ok() {
        return Err("this store already holds a crcm configuration: give the example an empty one".into());
    }
    let anna = Actor::new(UserId::new("anna")?, Role::SalesPerson);
    let ben = Actor::new(UserId::new("ben")?, Role::SalesPerson);
    let maria = Actor::new(UserId::new("maria")?, Role::Manager);

    say("1. Maria configures the funnel of seed 000 and the default deal pipeline");
    let version = engine
        .run(
            &maria,
            commands::SetConfig {
                config: funnel()?,
                expected_version: None,
            },
        )
        .await?
        .version;
    let (config, _) = engine.config().await?;
    for p in config.phases_of(&code("business")?) {
        println!("   {:<7} {:<18} {:?}", p.code.as_str(), p.description, p.phase_type);
    }
    let reasons: Vec<&str> = config.closing_reasons.iter().map(|r| r.label.as_str()).collect();
    println!(
        "   closing reasons: {}  (configuration version {version})",
        reasons.join(", ")
    );

    say("2. Leads arrive");
    let globex = engine
        .run(
            &maria,
            commands::CreateCustomer {
                customer: NewCustomer {
                    name: "Globex".into(),
                    phone: Some("+1 212-555-0147".into()),
                    ..NewCustomer::default()
                },
            },
        )
        .await?;
    println!(
        "   existing customer: {} (phone {})",
        globex.name,
        globex.phone.as_ref().map_or("", |p| p.e164.as_str())
    );
    let usd = Currency::new("USD")?;
    let lead = |first: &str, last: &str, company: &str, email: Option<&str>, phone: Option<&str>| NewLead {
        first_name: first.into(),
        last_name: last.into(),
        company: company.into(),
        email: email.map(Into::into),
        phone: phone.map(Into::into),
        source: code("web_form").ok(),
        expected_revenue: Money::new(1_200_000, usd).ok(),
        ..NewLead::default()
    };
    let acme = engine
        .run(
            &anna,
            commands::CreateLead {
                lead: lead("Ada", "Lovelace", "Acme Corp", Some("Ada@Acme.example.com"), None),
            },
        )
        .await?;
    let globex_lead = engine
        .run(
            &anna,
            commands::CreateLead {
                lead: lead("Hank", "Scorpio", "Globex Corp", None, Some("(212) 555 0147")),
            },
        )
        .await?;
    match engine
        .run(
            &ben,
            commands::CreateLead {
                lead: lead("Peter", "Gibbons", "Initech", Some("peter@@initech"), None),
            },
        )
        .await
    {
        Err(e) => println!("   ben's lead refused: {e}"),
        Ok(l) => println!("   unexpected: lead {} accepted", l.number),
    }
    let initech = engine
        .run(
            &ben,
            commands::CreateLead {
                lead: lead("Peter", "Gibbons", "Initech", Some("peter@initech.example.com"), None),
            },
        )
        .await?;
    let umbrella = engine
        .run(
            &ben,
            commands::CreateLead {
                lead: lead("Alice", "Abernathy", "Umbrella", None, None),
            },
        )
        .await?;
    for l in [&acme, &globex_lead, &initech, &umbrella] {
        println!(
            "   lead {:>2}  {:<18} owner {:<5} status {:<9} phase {}",
            l.number,
            l.display_name(),
            l.owner.as_str(),
            l.status.as_str(),
            l.phase.as_ref().map_or("-".into(), |p| p.code.to_string())
        );
    }

    say("3. Work the pipeline");
    engine
        .run(
            &anna,
            commands::SetLeadStatus {
                lead: acme.id,
                status: LeadStatus::Contacted,
            },
        )
        .await?;
    engine
        .run(
            &anna,
            commands::MoveLeadPhase {
                lead: acme.id,
                phase: phase("QUOTE")?,
                closing_reason: None,
                note: None,
            },
        )
        .await?;
    engine
        .run(
            &anna,
            commands::MoveLeadPhase {
                lead: globex_lead.id,
                phase: phase("QUOTE")?,
                closing_reason: None,
                note: None,
            },
        )
        .await?;
    println!(
        "   anna moved leads {} and {} to Send Quote",
        acme.number, globex_lead.number
    );
    match engine
        .run(
            &ben,
            commands::MoveLeadPhase {
                lead: acme.id,
                phase: phase("CLOSED")?,
                closing_reason: None,
                note: None,
            },
        )
        .await
    {
        Err(e) => println!("   ben may not touch anna's lead: {e}"),
        Ok(_) => println!("   unexpected: ben moved anna's lead"),
    }
    match engine
        .run(
            &anna,
            commands::QualifyLead {
                lead: globex_lead.id,
                customer: CustomerChoice::Auto,
                deal: DealDraft::default(),
            },
        )
        .await
        .map(|q| (q.lead, q.customer, q.deal))
    {
        Err(e) => println!("   qualify lead {}: {e}", globex_lead.number),
        Ok(_) => println!("   unexpected: qualified without choosing"),
    }
    for c in engine.customer_candidates(&anna, globex_lead.id).await? {
        println!(
            "   duplicate candidate: customer {} matched by phone {}",
            c.name,
            c.phone.as_ref().map_or("", |p| p.e164.as_str())
        );
    }
    let (_, customer, deal) = engine
        .run(
            &anna,
            commands::QualifyLead {
                lead: globex_lead.id,
                customer: CustomerChoice::Link { customer: globex.id },
                deal: DealDraft::default(),
            },
        )
        .await
        .map(|q| (q.lead, q.customer, q.deal))?;
    println!(
        "   lead {} qualified: linked to {}, deal \"{}\" at stage {}",
        globex_lead.number, customer.name, deal.title, deal.stage
    );
    let (won, converted) = engine
        .run(
            &anna,
            commands::WinDeal {
                deal: deal.id,
                stage: None,
            },
        )
        .await
        .map(|c| (c.deal, c.lead))?;
    println!(
        "   deal \"{}\" won on {} (probability {}%): lead {} is now {}",
        won.title,
        won.close_date.map_or("-".into(), |d| d.to_string()),
        won.probability,
        globex_lead.number,
        converted.map_or("unchanged", |l| l.status.as_str())
    );
    let (_, acme_customer, _) = engine
        .run(
            &anna,
            commands::QualifyLead {
                lead: acme.id,
                customer: CustomerChoice::Auto,
                deal: DealDraft::default(),
            },
        )
        .await
        .map(|q| (q.lead, q.customer, q.deal))?;
    println!("   lead {} qualified: new customer {}", acme.number, acme_customer.name);
    let l = engine
        .run(
            &ben,
            commands::DisqualifyLead {
                lead: initech.id,
                reason: code("no_budget")?,
                note: None,
            },
        )
        .await?;
    println!(
        "   lead {} disqualified by ben: reason {}",
        l.number,
        l.lost_reason.as_ref().map_or("-", |r| r.as_str())
    );
    engine
        .run(
            &ben,
            commands::MoveLeadPhase {
                lead: umbrella.id,
                phase: phase("CLOSED")?,
                closing_reason: Some(code("competitor")?),
                note: None,
            },
        )
        .await?;
    println!("   lead {} closed with closing reason Competitor", umbrella.number);

    say("4a. The board of account type Business (closed leads are not shown)");
    // The store keeps the counts and sums; only the cards shown are loaded.
    let board = engine.board(&maria, &BoardQuery::new(code("business")?)).await?;
    for column in &board.columns {
        let cards: Vec<String> = column
            .cards
            .iter()
            .map(|c| format!("#{} {} ({}, {} days)", c.number, c.name, c.status, c.days_in_phase))
            .collect();
        let revenue: Vec<String> = column.revenue.iter().map(ToString::to_string).collect();
        println!(
            "   {:<18} {:>2}  {:<14} {}",
            column.name,
            column.count,
            revenue.join(" + "),
            cards.join(", ")
        );
    }
    let closed = LeadQuery {
        filter: LeadFilter {
            account_type: Some(code("business")?),
            ..LeadFilter::default()
        },
        open: Some(false),
        page: PageRequest {
            limit: 0,
            total: true,
            after: None,
        },
        ..LeadQuery::default()
    };
    let closed = engine.leads(&maria, &closed).await?.total.unwrap_or(0);
    println!("   {:<18} {:>2}  (off the board)", "closed", closed);

    say(&format!(
        "4b. History of lead {} ({})",
        globex_lead.number,
        globex_lead.display_name()
    ));
    for h in engine.history(&maria, EntityRef::lead(globex_lead.id)).await? {
        let fields: Vec<String> = h
            .changes
            .iter()
            .filter(|c| {
                !matches!(
                    c.field.as_str(),
                    "phase_entered_at" | "reopen_point" | "id" | "created_at"
                )
            })
            .map(|c| {
                if c.items {
                    format!("{}: +{} -{}", c.field, plain(&c.new), plain(&c.old))
                } else {
                    format!("{}: {} -> {}", c.field, plain(&c.old), plain(&c.new))
                }
            })
            .collect();
        let shown = if h.version == 1 {
            format!("{} fields set", h.changes.len())
        } else {
            fields.join("; ")
        };
        println!(
            "   v{:<2} {} {:<6} {:<16} {}",
            h.version,
            h.at.format("%H:%M:%S"),
            h.actor.as_str(),
            h.action,
            shown
        );
    }

    say("4c. The event outbox");
    for e in engine.events_since(&maria, 0, 100).await? {
        let what = match &e.event {
            DomainEvent::LeadCreated { number, .. } => format!("lead {number} created"),
            DomainEvent::LeadQualified { customer_created, .. } => {
                format!(
                    "lead qualified ({} customer)",
                    if *customer_created { "new" } else { "existing" }
                )
            }
            DomainEvent::DealWon { value, close_date, .. } => {
                format!(
                    "deal won on {close_date}, value {}",
                    value.map_or("-".into(), |v| v.to_string())
                )
            }
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v["type"].as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        println!("   {:>3}  {:<6} {}", e.seq, e.actor.as_str(), what);
    }
    Ok(())
}
