//! The status every function returns: one stable table. `CRCM_OK` (0) is
//! success; 9001-9099 are the C ABI's own statuses (an argument the call
//! cannot use, a closed handle, a panic caught at the boundary); every other
//! number is the core's error code (`crcm::error::ERROR_CODES`, the table in
//! README), the same a JSON client reads in `error.code`.
//!
//! A status is a plain `uint32_t`, not a C enum: a newer library may return a
//! number this header does not name, and a C enum could not hold it. Numbers
//! are never reused; a retired one stays reserved.

/// The status a crcm function returns: `CRCM_OK` or an error code.
pub type crcm_status = u32;

/// 0: success; the outputs were written.
pub const CRCM_OK: crcm_status = 0;

/// 9001 `null_argument`: a pointer the call needs was NULL; nothing ran.
pub const CRCM_NULL_ARGUMENT: crcm_status = 9001;
/// 9002 `invalid_utf8`: a text argument is not UTF-8; nothing ran.
pub const CRCM_INVALID_UTF8: crcm_status = 9002;
/// 9003 `invalid_handle`: the engine handle was closed, or never came from
/// `crcm_engine_open`; nothing ran.
pub const CRCM_INVALID_HANDLE: crcm_status = 9003;
/// 9004 `panic`: the C layer failed (a bug, please report it); the panic was
/// caught at the boundary and the call stopped. The engine stays usable. (A
/// bug inside the engine's own work is `CRCM_INTERNAL`, 8002.)
pub const CRCM_PANIC: crcm_status = 9004;

// The core's codes, generated from crcm's error table (a test checks that
// they match it; `CRCM_BLESS=1 cargo test -p crcm-ffi --test header`
// rewrites them).
// status-table:begin
/// 1001 `invalid_email` (input): An e-mail address that is not valid.
pub const CRCM_INVALID_EMAIL: crcm_status = 1001;
/// 1002 `invalid_phone` (input): A phone number that cannot be parsed or is not valid for its region.
pub const CRCM_INVALID_PHONE: crcm_status = 1002;
/// 1003 `invalid_region` (input): A phone region that is not an ISO 3166 code the phone library knows.
pub const CRCM_INVALID_REGION: crcm_status = 1003;
/// 1004 `invalid_code` (input): A reference-data code with characters outside A-Z a-z 0-9 _ - . or of the wrong length.
pub const CRCM_INVALID_CODE: crcm_status = 1004;
/// 1005 `invalid_user_id` (input): A user id that is empty or too long.
pub const CRCM_INVALID_USER_ID: crcm_status = 1005;
/// 1006 `invalid_currency` (input): A currency that is not an ISO 4217 currency with a minor unit.
pub const CRCM_INVALID_CURRENCY: crcm_status = 1006;
/// 1007 `negative_amount` (input): A negative amount of money.
pub const CRCM_NEGATIVE_AMOUNT: crcm_status = 1007;
/// 1008 `probability_out_of_range` (input): A probability outside 0..=100.
pub const CRCM_PROBABILITY_OUT_OF_RANGE: crcm_status = 1008;
/// 1009 `required` (input): A required field left empty.
pub const CRCM_REQUIRED: crcm_status = 1009;
/// 1010 `too_long` (input): A text longer than its field allows.
pub const CRCM_TOO_LONG: crcm_status = 1010;
/// 1011 `control_character` (input): A text holding a control character.
pub const CRCM_CONTROL_CHARACTER: crcm_status = 1011;
/// 1012 `too_many` (input): A list holding more items than allowed.
pub const CRCM_TOO_MANY: crcm_status = 1012;
/// 1013 `unknown_reference` (input): A code naming no configured item of its kind (account type, source, priority, tag, pipeline).
pub const CRCM_UNKNOWN_REFERENCE: crcm_status = 1013;
/// 1014 `custom_field` (input): A custom field value that does not fit its definition.
pub const CRCM_CUSTOM_FIELD: crcm_status = 1014;
/// 1015 `bad_cursor` (input): A page cursor that is not one crcm wrote.
pub const CRCM_BAD_CURSOR: crcm_status = 1015;
/// 1016 `invalid_id` (input): A record or import id that is not a UUID.
pub const CRCM_INVALID_ID: crcm_status = 1016;
/// 1017 `out_of_range` (input): A number or date outside the range crcm accepts (amounts, dates, day counts).
pub const CRCM_OUT_OF_RANGE: crcm_status = 1017;
/// 1018 `malformed_request` (input): A request that is not one: not JSON, an unknown type, an unknown or missing field, a value of the wrong type (details: the JSON path).
pub const CRCM_MALFORMED_REQUEST: crcm_status = 1018;
/// 1019 `request_too_large` (input): A request larger than crcm reads (engine::api::MAX_REQUEST_BYTES).
pub const CRCM_REQUEST_TOO_LARGE: crcm_status = 1019;
/// 1020 `unsupported_wire_version` (input): A request written for a wire version this crcm does not speak.
pub const CRCM_UNSUPPORTED_WIRE_VERSION: crcm_status = 1020;
/// 1021 `one_of_required` (input): Fields of which at least one must be filled are all empty (details: their names).
pub const CRCM_ONE_OF_REQUIRED: crcm_status = 1021;
/// 1099 `invalid_fields` (input): Several input errors at once; each is listed with its own code.
pub const CRCM_INVALID_FIELDS: crcm_status = 1099;
/// 2001 `permission_denied` (permission): The actor's role or relation to the record does not allow the command.
pub const CRCM_PERMISSION_DENIED: crcm_status = 2001;
/// 3001 `not_found` (not_found): The command names a record that does not exist.
pub const CRCM_NOT_FOUND: crcm_status = 3001;
/// 3002 `lead_number_not_found` (not_found): The lead number names no lead.
pub const CRCM_LEAD_NUMBER_NOT_FOUND: crcm_status = 3002;
/// 4001 `version_conflict` (conflict): A record changed since it was read; nothing was written.
pub const CRCM_VERSION_CONFLICT: crcm_status = 4001;
/// 4002 `config_conflict` (conflict): The configuration changed since it was read; nothing was written.
pub const CRCM_CONFIG_CONFLICT: crcm_status = 4002;
/// 4003 `lookup_conflict` (conflict): A set the decision read (customers with an e-mail, a lead's deals, ...) changed; nothing was written.
pub const CRCM_LOOKUP_CONFLICT: crcm_status = 4003;
/// 4004 `contention` (conflict): The database aborted the transaction to resolve contention; nothing was written.
pub const CRCM_CONTENTION: crcm_status = 4004;
/// 4005 `duplicate` (conflict): A unique key (lead number, ...) is taken.
pub const CRCM_DUPLICATE: crcm_status = 4005;
/// 4006 `config_stale` (conflict): A configuration change was prepared against an older version.
pub const CRCM_CONFIG_STALE: crcm_status = 4006;
/// 5001 `config_invalid` (config): The configuration breaks one or more rules; every problem is listed.
pub const CRCM_CONFIG_INVALID: crcm_status = 5001;
/// 5002 `config_in_use` (config): The configuration change removes items that data still uses.
pub const CRCM_CONFIG_IN_USE: crcm_status = 5002;
/// 5003 `config_missing` (config): No configuration has been stored yet.
pub const CRCM_CONFIG_MISSING: crcm_status = 5003;
/// 5101 `status_requires_action` (lead): Only New and Contacted are set by hand; the other statuses are reached by an action.
pub const CRCM_STATUS_REQUIRES_ACTION: crcm_status = 5101;
/// 5102 `lead_not_allowed` (lead): The action is not possible from the lead's status.
pub const CRCM_LEAD_NOT_ALLOWED: crcm_status = 5102;
/// 5103 `customer_choice_required` (lead): Qualify found matching customers: link one or create a new one.
pub const CRCM_CUSTOMER_CHOICE_REQUIRED: crcm_status = 5103;
/// 5104 `quotation_requires_deal` (lead): Quotations belong to deals: qualify the lead first.
pub const CRCM_QUOTATION_REQUIRES_DEAL: crcm_status = 5104;
/// 5105 `lead_has_links` (lead): A lead with documents, deals, communications or timeline items is not deleted.
pub const CRCM_LEAD_HAS_LINKS: crcm_status = 5105;
/// 5106 `merge_into_self` (lead): A lead cannot be merged into itself.
pub const CRCM_MERGE_INTO_SELF: crcm_status = 5106;
/// 5107 `lead_closed` (lead): The lead is closed (converted, disqualified, merged, or in a closing phase).
pub const CRCM_LEAD_CLOSED: crcm_status = 5107;
/// 5108 `lead_merged` (lead): The lead was merged into another one and no longer changes.
pub const CRCM_LEAD_MERGED: crcm_status = 5108;
/// 5109 `external_ref_taken` (lead): Another lead has this external reference (system and id) already.
pub const CRCM_EXTERNAL_REF_TAKEN: crcm_status = 5109;
/// 5110 `lead_changed` (lead): The lead changed since the version the command names (a delete with if_version, an import's revert); it is left as it is.
pub const CRCM_LEAD_CHANGED: crcm_status = 5110;
/// 5201 `phase_not_in_account_type` (phase): The phase belongs to another account type.
pub const CRCM_PHASE_NOT_IN_ACCOUNT_TYPE: crcm_status = 5201;
/// 5202 `unknown_phase` (phase): The phase code names no phase.
pub const CRCM_UNKNOWN_PHASE: crcm_status = 5202;
/// 5203 `no_phases` (phase): The account type has no phases.
pub const CRCM_NO_PHASES: crcm_status = 5203;
/// 5204 `phase_required_for_account_type` (phase): Changing the account type needs a phase of the new type.
pub const CRCM_PHASE_REQUIRED_FOR_ACCOUNT_TYPE: crcm_status = 5204;
/// 5205 `not_closing_phase` (phase): A closing reason is recorded in a closing phase only.
pub const CRCM_NOT_CLOSING_PHASE: crcm_status = 5205;
/// 5206 `phase_lead_closed` (phase): The lead's status is closed, so its phase does not move.
pub const CRCM_PHASE_LEAD_CLOSED: crcm_status = 5206;
/// 5301 `stage_not_in_pipeline` (deal): The stage is not part of the deal's pipeline.
pub const CRCM_STAGE_NOT_IN_PIPELINE: crcm_status = 5301;
/// 5302 `deal_not_allowed` (deal): The action is not possible from the deal's status.
pub const CRCM_DEAL_NOT_ALLOWED: crcm_status = 5302;
/// 5303 `lost_needs_reason` (deal): A lost stage is reached by losing the deal with a reason.
pub const CRCM_LOST_NEEDS_REASON: crcm_status = 5303;
/// 5304 `probability_fixed` (deal): Won and lost deals have a fixed probability.
pub const CRCM_PROBABILITY_FIXED: crcm_status = 5304;
/// 5305 `wrong_stage_kind` (deal): The stage chosen is of another kind than the action needs.
pub const CRCM_WRONG_STAGE_KIND: crcm_status = 5305;
/// 5306 `no_stage_of_kind` (deal): The pipeline has no stage of the kind the action needs.
pub const CRCM_NO_STAGE_OF_KIND: crcm_status = 5306;
/// 5401 `unknown_reason` (reason): The closing or lost reason is not configured.
pub const CRCM_UNKNOWN_REASON: crcm_status = 5401;
/// 5402 `reason_note_required` (reason): The reason is configured to need a note.
pub const CRCM_REASON_NOTE_REQUIRED: crcm_status = 5402;
/// 5501 `communication_ignored` (communication): The communication is marked ignored.
pub const CRCM_COMMUNICATION_IGNORED: crcm_status = 5501;
/// 5502 `communication_linked` (communication): A communication linked to a lead is not ignored.
pub const CRCM_COMMUNICATION_LINKED: crcm_status = 5502;
/// 6001 `format_too_new` (storage): The store was written by a newer crcm.
pub const CRCM_FORMAT_TOO_NEW: crcm_status = 6001;
/// 6002 `not_a_crcm_store` (storage): The location holds data that is not a crcm store; it was not modified.
pub const CRCM_NOT_A_CRCM_STORE: crcm_status = 6002;
/// 6003 `corrupt` (storage): A stored record could not be decoded.
pub const CRCM_CORRUPT: crcm_status = 6003;
/// 6004 `not_durable` (storage): The unit of work was applied but could not be made durable.
pub const CRCM_NOT_DURABLE: crcm_status = 6004;
/// 6005 `backend` (storage): The backend failed (I/O, connection, database); nothing was applied.
pub const CRCM_BACKEND: crcm_status = 6005;
/// 6006 `overflow` (storage): A sum the store maintains (a board cell) would overflow; nothing was applied.
pub const CRCM_OVERFLOW: crcm_status = 6006;
/// 6007 `invalid_options` (storage): The options given to open a store cannot work (an empty path, a cache too small, an unknown spec); nothing was opened.
pub const CRCM_INVALID_OPTIONS: crcm_status = 6007;
/// 7001 `import_io` (import): Reading the import file or writing the export failed.
pub const CRCM_IMPORT_IO: crcm_status = 7001;
/// 7002 `import_csv` (import): The file is not CSV crcm can read.
pub const CRCM_IMPORT_CSV: crcm_status = 7002;
/// 7003 `import_no_header` (import): The file is empty: it needs a header row.
pub const CRCM_IMPORT_NO_HEADER: crcm_status = 7003;
/// 7004 `import_resume_mismatch` (import): A resume with another file, mapping or batch size than the interrupted import; nothing was written.
pub const CRCM_IMPORT_RESUME_MISMATCH: crcm_status = 7004;
/// 7005 `import_record_too_long` (import): A record longer than 1 MiB: not a CSV file, or a quote never closed.
pub const CRCM_IMPORT_RECORD_TOO_LONG: crcm_status = 7005;
/// 7006 `import_header_not_utf8` (import): A header that is not UTF-8.
pub const CRCM_IMPORT_HEADER_NOT_UTF8: crcm_status = 7006;
/// 7007 `import_unknown_columns` (import): Columns that are neither fields nor mapped: map or ignore them.
pub const CRCM_IMPORT_UNKNOWN_COLUMNS: crcm_status = 7007;
/// 7008 `import_no_such_column` (import): The mapping names a column the file does not have.
pub const CRCM_IMPORT_NO_SUCH_COLUMN: crcm_status = 7008;
/// 7009 `import_missing_columns` (import): Nothing fills a required field: map a column, set a constant, or relax it.
pub const CRCM_IMPORT_MISSING_COLUMNS: crcm_status = 7009;
/// 7010 `import_unknown_field` (import): A field name that is neither a field nor a configured custom field.
pub const CRCM_IMPORT_UNKNOWN_FIELD: crcm_status = 7010;
/// 7011 `import_unknown_mode` (import): An import mode crcm does not know.
pub const CRCM_IMPORT_UNKNOWN_MODE: crcm_status = 7011;
/// 7012 `import_conflicting_mapping` (import): A field filled in two ways (a constant and a column, ...).
pub const CRCM_IMPORT_CONFLICTING_MAPPING: crcm_status = 7012;
/// 7013 `import_batch_size` (import): A batch size outside 1 to the largest allowed.
pub const CRCM_IMPORT_BATCH_SIZE: crcm_status = 7013;
/// 7014 `import_changed` (import): All-or-nothing: a checked row was refused while importing (the configuration changed); resume the import.
pub const CRCM_IMPORT_CHANGED: crcm_status = 7014;
/// 7015 `import_cancelled` (import): The caller stopped the import; the batches committed stay, resume it with its id.
pub const CRCM_IMPORT_CANCELLED: crcm_status = 7015;
/// 7016 `import_dialect` (import): An encoding label no standard knows, or a delimiter that is not one ASCII character.
pub const CRCM_IMPORT_DIALECT: crcm_status = 7016;
/// 8001 `inside_runtime` (usage): The blocking engine was called from inside an async runtime; nothing ran.
pub const CRCM_INSIDE_RUNTIME: crcm_status = 8001;
/// 8002 `internal` (internal): crcm failed inside (a bug, please report it); the request was stopped.
pub const CRCM_INTERNAL: crcm_status = 8002;
// status-table:end
