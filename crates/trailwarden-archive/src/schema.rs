//! The archive's Arrow schema, declared once as a column table.
//!
//! Every column is one [`Column`] row in [`COLUMNS`]: its name, its Arrow type, whether it may be
//! null, how to read it from an [`Event`], and how Parquet should encode it. The Arrow schema
//! ([`schema`]), the Parquet writer properties and the encoder are all derived from that table, so
//! they cannot drift apart.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use trailwarden_parse::Event;

/// Version of the archive schema written by this crate.
///
/// Stored in every file as the Parquet key-value metadata entry [`SCHEMA_VERSION_KEY`] (and in the
/// Arrow schema's metadata under the same key). Bumped only for breaking changes; additive ones
/// bump [`ARCHIVE_SCHEMA_MINOR`]. See `docs/archive.md` for the versioning policy.
pub const ARCHIVE_SCHEMA_VERSION: u32 = 1;

/// Key of the schema version in the Parquet key-value metadata and in the Arrow schema metadata.
pub const SCHEMA_VERSION_KEY: &str = "trailwarden.archive.schema_version";

/// Minor version of the archive schema: bumped for additive, backward-compatible changes
/// (a new nullable column at the end), reset to 0 when [`ARCHIVE_SCHEMA_VERSION`] changes.
pub const ARCHIVE_SCHEMA_MINOR: u32 = 0;

/// Key of [`ARCHIVE_SCHEMA_MINOR`] in the Parquet key-value metadata and Arrow schema metadata.
pub const SCHEMA_MINOR_KEY: &str = "trailwarden.archive.schema_minor";

/// Time zone of the archive's timestamp columns.
pub const TIMESTAMP_TZ: &str = "UTC";

/// How a column's value is read from an [`Event`].
#[derive(Clone, Copy)]
pub(crate) enum Getter {
    /// A nullable string column.
    Utf8(fn(&Event) -> Option<&str>),
    /// A nullable boolean column.
    Bool(fn(&Event) -> Option<bool>),
    /// A nullable timestamp column (microseconds, UTC).
    Timestamp(fn(&Event) -> Option<i64>),
    /// `event_time`: non-null timestamp.
    EventTime,
    /// `principal_type`: non-null string ([`trailwarden_parse::IdentityType::as_str`]).
    PrincipalType,
    /// `source_object`: non-null string, the same for every row of a file.
    SourceObject,
    /// `record_index`: non-null `UInt32`.
    RecordIndex,
}

/// One archive column.
#[derive(Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    pub getter: Getter,
    /// Parquet dictionary encoding. On for low/medium-cardinality columns; off for unique ids,
    /// large raw JSON and numbers, where it only costs CPU before falling back to plain.
    pub dictionary: bool,
    /// Parquet min/max statistics (chunk and page level). Off for raw JSON text and unique ids,
    /// where min/max prune nothing.
    pub statistics: bool,
}

impl Column {
    pub fn nullable(&self) -> bool {
        !matches!(
            self.getter,
            Getter::EventTime | Getter::PrincipalType | Getter::SourceObject | Getter::RecordIndex
        )
    }

    pub fn data_type(&self) -> DataType {
        match self.getter {
            Getter::Utf8(_) | Getter::PrincipalType | Getter::SourceObject => DataType::Utf8,
            Getter::Bool(_) => DataType::Boolean,
            Getter::Timestamp(_) | Getter::EventTime => timestamp_type(),
            Getter::RecordIndex => DataType::UInt32,
        }
    }
}

/// `Timestamp(Microsecond, "UTC")`.
pub(crate) fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TIMESTAMP_TZ.into()))
}

/// Empty strings of the two always-present model fields are stored as NULL ("absent").
fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

const fn col(name: &'static str, getter: Getter, dictionary: bool, statistics: bool) -> Column {
    Column {
        name,
        getter,
        dictionary,
        statistics,
    }
}

// Shorthands for the table below: (dictionary, statistics).
const DICT: (bool, bool) = (true, true);
const RAW: (bool, bool) = (false, false);
const RAW_DICT: (bool, bool) = (true, false);

const fn utf8(name: &'static str, get: fn(&Event) -> Option<&str>, enc: (bool, bool)) -> Column {
    col(name, Getter::Utf8(get), enc.0, enc.1)
}

const fn boolean(name: &'static str, get: fn(&Event) -> Option<bool>) -> Column {
    col(name, Getter::Bool(get), false, true)
}

/// The archive columns, in schema order. Schema version [`ARCHIVE_SCHEMA_VERSION`].
pub(crate) const COLUMNS: &[Column] = &[
    col("event_time", Getter::EventTime, false, true),
    utf8("event_version", |e| e.event_version.as_deref(), DICT),
    utf8("event_source", |e| non_empty(&e.event_source), DICT),
    utf8("event_name", |e| non_empty(&e.event_name), DICT),
    utf8("aws_region", |e| e.aws_region.as_deref(), DICT),
    utf8(
        "source_ip_address",
        |e| e.source_ip_address.as_deref(),
        DICT,
    ),
    utf8("user_agent", |e| e.user_agent.as_deref(), RAW_DICT),
    utf8("error_code", |e| e.error_code.as_deref(), DICT),
    utf8("error_message", |e| e.error_message.as_deref(), RAW_DICT),
    utf8("request_id", |e| e.request_id.as_deref(), RAW),
    utf8("event_id", |e| e.event_id.as_deref(), RAW),
    utf8("event_type", |e| e.event_type.as_deref(), DICT),
    utf8("event_category", |e| e.event_category.as_deref(), DICT),
    utf8("api_version", |e| e.api_version.as_deref(), DICT),
    utf8(
        "recipient_account_id",
        |e| e.recipient_account_id.as_deref(),
        DICT,
    ),
    utf8("shared_event_id", |e| e.shared_event_id.as_deref(), RAW),
    utf8("vpc_endpoint_id", |e| e.vpc_endpoint_id.as_deref(), DICT),
    boolean("read_only", |e| e.read_only),
    boolean("management_event", |e| e.management_event),
    boolean("session_credential_from_console", |e| {
        e.session_credential_from_console
    }),
    utf8("principal", |e| e.identity.principal.as_deref(), DICT),
    col("principal_type", Getter::PrincipalType, true, true),
    utf8("principal_id", |e| e.identity.principal_id.as_deref(), DICT),
    utf8("user_arn", |e| e.identity.arn.as_deref(), DICT),
    utf8(
        "identity_account_id",
        |e| e.identity.account_id.as_deref(),
        DICT,
    ),
    utf8(
        "access_key_id",
        |e| e.identity.access_key_id.as_deref(),
        DICT,
    ),
    utf8("user_name", |e| e.identity.user_name.as_deref(), DICT),
    utf8("invoked_by", |e| e.identity.invoked_by.as_deref(), DICT),
    utf8(
        "session_issuer_type",
        |e| e.identity.session_issuer_type.as_deref(),
        DICT,
    ),
    utf8(
        "session_issuer_arn",
        |e| e.identity.session_issuer_arn.as_deref(),
        DICT,
    ),
    utf8(
        "session_issuer_user_name",
        |e| e.identity.session_issuer_user_name.as_deref(),
        DICT,
    ),
    utf8(
        "session_issuer_account_id",
        |e| e.identity.session_issuer_account_id.as_deref(),
        DICT,
    ),
    utf8(
        "source_identity",
        |e| e.identity.source_identity.as_deref(),
        DICT,
    ),
    utf8(
        "identity_provider",
        |e| e.identity.identity_provider.as_deref(),
        DICT,
    ),
    utf8(
        "on_behalf_of_user_id",
        |e| e.identity.on_behalf_of_user_id.as_deref(),
        DICT,
    ),
    utf8(
        "identity_store_arn",
        |e| e.identity.identity_store_arn.as_deref(),
        DICT,
    ),
    boolean("mfa_authenticated", |e| e.identity.mfa_authenticated),
    col(
        "session_creation_time",
        Getter::Timestamp(|e| e.identity.session_creation_time),
        true,
        true,
    ),
    utf8(
        "request_parameters",
        |e| e.request_parameters.as_deref(),
        RAW,
    ),
    utf8("response_elements", |e| e.response_elements.as_deref(), RAW),
    utf8(
        "additional_event_data",
        |e| e.additional_event_data.as_deref(),
        RAW_DICT,
    ),
    utf8("resources", |e| e.resources.as_deref(), RAW_DICT),
    utf8(
        "service_event_details",
        |e| e.service_event_details.as_deref(),
        RAW,
    ),
    utf8("tls_details", |e| e.tls_details.as_deref(), RAW_DICT),
    utf8("insight_details", |e| e.insight_details.as_deref(), RAW),
    utf8("addendum", |e| e.addendum.as_deref(), RAW),
    utf8(
        "edge_device_details",
        |e| e.edge_device_details.as_deref(),
        RAW,
    ),
    col("source_object", Getter::SourceObject, true, true),
    col("record_index", Getter::RecordIndex, false, true),
];

/// The archive's Arrow schema (version [`ARCHIVE_SCHEMA_VERSION`]).
///
/// The schema metadata carries [`SCHEMA_VERSION_KEY`] and [`SCHEMA_MINOR_KEY`]. The Hive partition columns `account`,
/// `region` and `date` are *not* part of it: they live only in the directory names.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        let fields: Vec<Field> = COLUMNS
            .iter()
            .map(|c| Field::new(c.name, c.data_type(), c.nullable()))
            .collect();
        let metadata = HashMap::from([
            (
                SCHEMA_VERSION_KEY.to_string(),
                ARCHIVE_SCHEMA_VERSION.to_string(),
            ),
            (
                SCHEMA_MINOR_KEY.to_string(),
                ARCHIVE_SCHEMA_MINOR.to_string(),
            ),
        ]);
        Arc::new(Schema::new_with_metadata(fields, metadata))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in COLUMNS {
            assert!(seen.insert(c.name), "duplicate column {}", c.name);
            assert!(
                c.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{} is not snake_case",
                c.name
            );
            assert!(
                !matches!(c.name, "account" | "region" | "date"),
                "{} collides with a partition column",
                c.name
            );
        }
        assert_eq!(schema().fields().len(), COLUMNS.len());
    }

    #[test]
    fn non_null_columns() {
        let s = schema();
        let non_null: Vec<&str> = s
            .fields()
            .iter()
            .filter(|f| !f.is_nullable())
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            non_null,
            [
                "event_time",
                "principal_type",
                "source_object",
                "record_index"
            ]
        );
    }
}
