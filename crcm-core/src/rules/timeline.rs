//! Timeline rules: activities and follow-ups on a lead or deal.

use chrono::{DateTime, Utc};

use crate::domain::activity::{Activity, ActivityKind, FollowUp, Subject};
use crate::domain::deal::Deal;
use crate::domain::error::InputError;
use crate::domain::event::DomainEvent;
use crate::domain::ids::{ActivityId, FollowUpId, UserId};
use crate::domain::lead::Lead;
use crate::domain::limits::{self};
use crate::rules::access::{self, Actor};
use crate::rules::error::Error;
use crate::store::uow::UnitOfWork;

use super::Ctx;
use super::fields::check_len;
use super::lead::refuse_merged;

/// The lead or deal a timeline item belongs to, loaded.
#[allow(clippy::large_enum_variant)] // short-lived, one per command
#[derive(Clone, Debug, PartialEq)]
pub enum SubjectRecord {
    /// A lead.
    Lead(Lead),
    /// A deal.
    Deal(Deal),
}

impl SubjectRecord {
    /// Whether the actor may change this lead or deal.
    fn permits(&self, actor: &Actor) -> Result<(), access::PermissionError> {
        match self {
            Self::Lead(l) => access::can_change_lead(actor, l),
            Self::Deal(d) => access::can_change_deal(actor, d),
        }
    }

    /// The subject a new timeline item goes on: one the actor may change,
    /// and not a merged lead.
    fn check(&self, actor: &Actor) -> Result<Subject, Error> {
        self.permits(actor)?;
        match self {
            Self::Lead(l) => {
                refuse_merged(l)?;
                Ok(Subject::Lead(l.id))
            }
            Self::Deal(d) => Ok(Subject::Deal(d.id)),
        }
    }
}

/// Logs a note, call, e-mail or meeting.
pub fn log_activity(
    ctx: &Ctx<'_>,
    subject: &SubjectRecord,
    kind: ActivityKind,
    summary: &str,
    body: &str,
    occurred_at: Option<DateTime<Utc>>,
) -> Result<(UnitOfWork, Activity), Error> {
    let subject = subject.check(ctx.actor)?;
    let mut errors = Vec::new();
    let summary = summary.trim();
    if summary.is_empty() {
        errors.push(InputError::Required {
            field: "summary".to_owned(),
        });
    }
    check_len(&mut errors, "summary", summary, limits::LINE);
    check_len(&mut errors, "body", body, limits::TEXT);
    InputError::collect(errors)?;
    let activity = Activity {
        id: ActivityId::new(),
        version: 1,
        subject,
        kind,
        summary: summary.to_owned(),
        body: body.trim().to_owned(),
        occurred_at: occurred_at.map_or(ctx.now, limits::to_micros),
        author: ctx.actor.user.clone(),
        created_at: ctx.now,
    };
    let mut uow = ctx.uow();
    uow.insert(&activity);
    uow.event(DomainEvent::ActivityLogged {
        activity: activity.id,
        subject,
        kind,
    });
    Ok((uow, activity))
}

/// Schedules a follow-up.
pub fn schedule_follow_up(
    ctx: &Ctx<'_>,
    subject: &SubjectRecord,
    due: chrono::NaiveDate,
    note_text: &str,
    assignee: Option<&UserId>,
) -> Result<(UnitOfWork, FollowUp), Error> {
    let subject = subject.check(ctx.actor)?;
    let mut errors = Vec::new();
    let text = note_text.trim();
    if text.is_empty() {
        errors.push(InputError::Required {
            field: "note".to_owned(),
        });
    }
    check_len(&mut errors, "note", text, limits::TEXT);
    limits::collect_date(&mut errors, "due", Some(due));
    InputError::collect(errors)?;
    let follow_up = FollowUp {
        id: FollowUpId::new(),
        version: 1,
        subject,
        due,
        note: text.to_owned(),
        assignee: assignee.cloned().unwrap_or_else(|| ctx.actor.user.clone()),
        done: false,
        done_at: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut uow = ctx.uow();
    uow.insert(&follow_up);
    uow.event(DomainEvent::FollowUpScheduled {
        follow_up: follow_up.id,
        subject,
        due,
    });
    Ok((uow, follow_up))
}

/// Marks a follow-up done (its assignee, or whoever may change its subject).
pub fn complete_follow_up(
    ctx: &Ctx<'_>,
    follow_up: &FollowUp,
    subject: &SubjectRecord,
) -> Result<(UnitOfWork, FollowUp), Error> {
    access::can_complete_follow_up(ctx.actor, follow_up, || subject.permits(ctx.actor))?;
    let mut next = follow_up.clone();
    let mut uow = ctx.uow();
    if !follow_up.done {
        next.done = true;
        next.done_at = Some(ctx.now);
        next.updated_at = ctx.now;
        uow.update(follow_up, &mut next);
        uow.event(DomainEvent::FollowUpCompleted {
            follow_up: follow_up.id,
        });
    }
    Ok((uow, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead::LeadStatus;
    use crate::rules::test_support::{ann, bob, config, ctx, lead, maria};

    #[test]
    fn activities_go_on_leads_the_actor_works_and_not_on_merged_ones() {
        let config = config();
        let ann = ann();
        let l = lead(&config, 1, LeadStatus::New);
        let subject = SubjectRecord::Lead(l.clone());
        let (uow, a) = log_activity(&ctx(&config, &ann), &subject, ActivityKind::Call, " called ", "", None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a.summary.as_str(), a.subject), ("called", Subject::Lead(l.id)));
        assert_eq!(uow.writes.len(), 1);
        let e = log_activity(&ctx(&config, &bob()), &subject, ActivityKind::Note, "x", "", None).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
        let e = log_activity(&ctx(&config, &ann), &subject, ActivityKind::Note, "  ", "", None).err();
        assert!(matches!(e, Some(Error::Input(InputError::Required { .. }))), "{e:?}");
        let mut merged = l;
        merged.status = LeadStatus::Merged;
        let e = log_activity(
            &ctx(&config, &ann),
            &SubjectRecord::Lead(merged),
            ActivityKind::Note,
            "x",
            "",
            None,
        )
        .err();
        assert!(
            matches!(e, Some(Error::Lead(crate::rules::machine::LeadError::Merged { .. }))),
            "{e:?}"
        );
    }

    #[test]
    fn a_follow_up_is_completed_by_its_assignee_or_whoever_works_the_lead() {
        let config = config();
        let ann = ann();
        let bob = bob();
        let l = lead(&config, 1, LeadStatus::New);
        let subject = SubjectRecord::Lead(l);
        let due = ctx(&config, &ann).now.date_naive();
        let (_, f) = schedule_follow_up(&ctx(&config, &maria()), &subject, due, "call back", Some(&bob.user))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.assignee, bob.user);
        // Bob does not work the lead, but the follow-up is his.
        let (uow, done) = complete_follow_up(&ctx(&config, &bob), &f, &subject).unwrap_or_else(|e| panic!("{e}"));
        assert!(done.done);
        assert_eq!(uow.events, vec![DomainEvent::FollowUpCompleted { follow_up: f.id }]);
        let (again, _) = complete_follow_up(&ctx(&config, &bob), &done, &subject).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.is_empty(), "completing twice changes nothing");
        let (_, mine) = schedule_follow_up(&ctx(&config, &ann), &subject, due, "send quote", None)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = complete_follow_up(&ctx(&config, &bob), &mine, &subject).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
    }
}
