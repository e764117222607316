//! History: who changed what, when, with each field's old and new value.
//!
//! Entries are produced by [`UnitOfWork`](crate::UnitOfWork) from the very old
//! and new records it writes, so history cannot drift from the change itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::entity::EntityRef;
use crate::domain::ids::UserId;

/// One field's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FieldChange {
    /// The field's name as in the entity's JSON form.
    pub field: String,
    /// The value before (`null` when the entity was created or the field was empty).
    pub old: Value,
    /// The value after (`null` when the entity was deleted or the field was cleared).
    pub new: Value,
    /// A list that gained or lost items: `old` holds the items removed and
    /// `new` the items added (each in list order), not the whole lists, so a
    /// list's history grows with its changes, not with its length. `false`
    /// (and left out of the JSON form) for every other change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub items: bool,
}

impl FieldChange {
    /// The value before, read as the field's type (`None` when it was empty):
    /// `change.old_as::<LeadStatus>()`.
    pub fn old_as<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        serde_json::from_value(self.old.clone())
    }

    /// The field's value after this change, given its value before: `new`,
    /// or for a list change ([`FieldChange::items`]) the list before without
    /// the removed items and with the added ones.
    pub fn apply(&self, before: &Value) -> Value {
        if !self.items {
            return self.new.clone();
        }
        let before = before.as_array().map(Vec::as_slice).unwrap_or_default();
        let removed = self.old.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut after = minus(before, removed);
        after.extend(self.new.as_array().into_iter().flatten().cloned());
        Value::Array(after)
    }

    /// The value after, read as the field's type (`None` when it was cleared):
    /// `change.new_as::<PhaseRef>()`. For a list change
    /// ([`FieldChange::items`]) these are the items added; see
    /// [`FieldChange::apply`] for the whole list.
    pub fn new_as<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        serde_json::from_value(self.new.clone())
    }
}

/// One applied change to one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HistoryEntry {
    /// The entity.
    pub entity: EntityRef,
    /// The entity's version after the change (for a deletion: the deleted version + 1).
    pub version: u64,
    /// Who made it.
    pub actor: UserId,
    /// When.
    pub at: DateTime<Utc>,
    /// The command, e.g. `qualify_lead`.
    pub action: String,
    /// Each changed field.
    pub changes: Vec<FieldChange>,
}

impl HistoryEntry {
    /// The change of one field, if it changed.
    pub fn change(&self, field: &str) -> Option<&FieldChange> {
        self.changes.iter().find(|c| c.field == field)
    }
}

/// Fields that change on every write and carry no information of their own.
const BOOKKEEPING: [&str; 2] = ["version", "updated_at"];

/// The field-level difference between two JSON objects (either may be `Null`).
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    let mut fields: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| !BOOKKEEPING.contains(&f.as_str()))
        .filter_map(|field| {
            let o = old_map.get(field).cloned().unwrap_or(Value::Null);
            let n = new_map.get(field).cloned().unwrap_or(Value::Null);
            (o != n).then(|| change(field, o, n))
        })
        .collect()
}

/// One field's change: two lists that differ by items become the items
/// removed and added; anything else (and a list only reordered) is the
/// values before and after.
fn change(field: &str, old: Value, new: Value) -> FieldChange {
    if let (Value::Array(before), Value::Array(after)) = (&old, &new) {
        let removed = minus(before, after);
        let added = minus(after, before);
        if !removed.is_empty() || !added.is_empty() {
            return FieldChange {
                field: field.to_owned(),
                old: Value::Array(removed),
                new: Value::Array(added),
                items: true,
            };
        }
    }
    FieldChange {
        field: field.to_owned(),
        old,
        new,
        items: false,
    }
}

/// The items of `a` not in `b`, counting repeats, in `a`'s order.
fn minus(a: &[Value], b: &[Value]) -> Vec<Value> {
    let mut left: Vec<&Value> = b.iter().collect();
    let mut out = Vec::new();
    for item in a {
        match left.iter().position(|x| *x == item) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => out.push(item.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_back_as_their_field_type() {
        use crate::domain::lead::LeadStatus;
        let change = FieldChange {
            field: "status".into(),
            old: serde_json::json!("new"),
            new: serde_json::json!("qualified"),
            items: false,
        };
        assert_eq!(change.old_as::<LeadStatus>().ok().flatten(), Some(LeadStatus::New));
        assert_eq!(
            change.new_as::<LeadStatus>().ok().flatten(),
            Some(LeadStatus::Qualified)
        );
        let cleared = FieldChange {
            field: "probability".into(),
            old: serde_json::json!(40),
            new: Value::Null,
            items: false,
        };
        assert_eq!(cleared.new_as::<u8>().ok().flatten(), None);
        assert!(change.new_as::<u8>().is_err(), "a wrong type is an error, not a guess");
    }
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_only_and_skips_bookkeeping() {
        let old = json!({"a": 1, "b": "x", "version": 1, "gone": true});
        let new = json!({"a": 2, "b": "x", "version": 2, "added": [1]});
        let d = diff(&old, &new);
        let names: Vec<&str> = d.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(names, ["a", "added", "gone"]);
        assert_eq!(d[0].old, json!(1));
        assert_eq!(d[0].new, json!(2));
        assert_eq!(d[2].new, Value::Null);
    }

    #[test]
    fn lists_record_the_items_added_and_removed() {
        let old = json!({"documents": [{"id": "Q-1"}, {"id": "Q-2"}], "tags": ["a", "b"], "team": ["x", "y"]});
        let new =
            json!({"documents": [{"id": "Q-1"}, {"id": "Q-2"}, {"id": "Q-3"}], "tags": ["b"], "team": ["y", "x"]});
        let d = diff(&old, &new);
        let docs = d
            .iter()
            .find(|c| c.field == "documents")
            .unwrap_or_else(|| panic!("{d:?}"));
        assert!(docs.items);
        assert_eq!((&docs.old, &docs.new), (&json!([]), &json!([{"id": "Q-3"}])));
        let tags = d.iter().find(|c| c.field == "tags").unwrap_or_else(|| panic!("{d:?}"));
        assert_eq!((tags.items, &tags.old, &tags.new), (true, &json!(["a"]), &json!([])));
        // Applied to the list before, a change gives the list after.
        assert_eq!(docs.apply(&old["documents"]), new["documents"]);
        assert_eq!(tags.apply(&old["tags"]), new["tags"]);
        // Reordered only: the lists before and after.
        let team = d.iter().find(|c| c.field == "team").unwrap_or_else(|| panic!("{d:?}"));
        assert_eq!((team.items, &team.new), (false, &json!(["y", "x"])));
        // A created record's lists are plain values (nothing before).
        let created = diff(&Value::Null, &new);
        assert!(created.iter().all(|c| !c.items), "{created:?}");
        // 300 links: each entry holds one document, not the list.
        let mut list = Vec::new();
        let mut total = 0;
        for i in 0..300 {
            let before = json!({ "documents": list.clone() });
            list.push(json!({"id": format!("SO-{i}")}));
            let after = json!({ "documents": list.clone() });
            total += serde_json::to_string(&diff(&before, &after)).map_or(0, |s| s.len());
        }
        assert!(total < 300 * 100, "history of 300 links: {total} bytes");
    }
}
