//! Events → in-memory Parquet files, one per Hive partition of a source object.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder, UInt32Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use trailwarden_parse::Event;

use crate::error::ArchiveError;
use crate::partition::{day_of, file_name, Partition};
use crate::schema::{
    schema, Getter, ARCHIVE_SCHEMA_MINOR, ARCHIVE_SCHEMA_VERSION, COLUMNS, SCHEMA_MINOR_KEY,
    SCHEMA_VERSION_KEY, TIMESTAMP_TZ,
};

/// Default rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 8192;

/// Default zstd level (see `docs/archive.md` for the measurements behind it).
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// A row group is closed early once its string data reaches this many bytes, which bounds the
/// encoder's memory and keeps every Arrow `Utf8` column far below its 2 GiB offset limit.
pub const MAX_ROW_GROUP_STRING_BYTES: usize = 128 << 20;

/// Default [`ArchiveOptions::min_compressed_chunk_bytes`].
pub const DEFAULT_MIN_COMPRESSED_CHUNK_BYTES: usize = 1024;

/// The `created_by` written into every file. Fixed per trailwarden version, so output is
/// reproducible.
pub const CREATED_BY: &str = concat!("trailwarden ", env!("CARGO_PKG_VERSION"));

/// How the archive is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// Rows per Parquet row group (the last one of a file may be shorter, and a row group is also
    /// closed at [`MAX_ROW_GROUP_STRING_BYTES`]). Must be at least 1. Default 8192.
    pub row_group_rows: usize,
    /// zstd compression level, 1–22 (negative "fast" levels are accepted too). Default 1.
    pub zstd_level: i32,
    /// A column is zstd-compressed in a file only when its estimated raw size there (string
    /// bytes, 8 bytes per timestamp…) is at least this many bytes; smaller column chunks are
    /// stored uncompressed. Compressing a tiny chunk saves nothing, while setting up the zstd
    /// contexts for it costs more than encoding the data, which dominates for small objects.
    /// `0` compresses every column. Default 1024.
    pub min_compressed_chunk_bytes: usize,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            min_compressed_chunk_bytes: DEFAULT_MIN_COMPRESSED_CHUNK_BYTES,
        }
    }
}

/// One encoded Parquet file, ready to be written by [`crate::LocalArchive`] (or uploaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFile {
    /// Path relative to the archive root, `/`-separated:
    /// `account=…/region=…/date=YYYY-MM-DD/<stem>-<hash>.parquet`.
    pub rel_path: String,
    /// The complete Parquet file.
    pub bytes: Vec<u8>,
    /// Number of rows (events) in the file.
    pub rows: u64,
}

/// Encodes the events of one source object into one Parquet file per Hive partition.
///
/// Convenience wrapper around [`Encoder`]; to encode many objects, keep an [`Encoder`] (or an
/// [`EncoderPool`]) instead, which reuses its writer properties and column builders.
pub fn encode_object<E: Borrow<Event>>(
    source_object: &str,
    events: &[E],
    opts: &ArchiveOptions,
) -> Result<Vec<EncodedFile>, ArchiveError> {
    Encoder::new(opts)?.encode_object(source_object, events)
}

/// Encoders shared by the threads that encode objects: a caller takes one (or makes one when
/// all are busy) and gives it back, so at most as many exist as objects are encoded at once —
/// not one per thread that ever encoded (a blocking pool has many), each holding column
/// builders sized by the largest object it saw.
#[derive(Debug)]
pub struct EncoderPool {
    options: ArchiveOptions,
    free: std::sync::Mutex<Vec<Encoder>>,
}

impl EncoderPool {
    /// Validates the options (by making the first encoder).
    pub fn new(options: &ArchiveOptions) -> Result<EncoderPool, ArchiveError> {
        let first = Encoder::new(options)?;
        Ok(EncoderPool {
            options: options.clone(),
            free: std::sync::Mutex::new(vec![first]),
        })
    }

    /// [`Encoder::encode_object`] with an encoder of the pool.
    pub fn encode_object<E: Borrow<Event>>(
        &self,
        source_object: &str,
        events: &[E],
    ) -> Result<Vec<EncodedFile>, ArchiveError> {
        let taken = self.lock().pop();
        let mut enc = match taken {
            Some(e) => e,
            None => Encoder::new(&self.options)?,
        };
        let files = enc.encode_object(source_object, events);
        self.lock().push(enc);
        files
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Encoder>> {
        // an encoder is pushed or popped whole: a panic elsewhere leaves the list intact
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A reusable archive encoder (`Send`, not shared: see [`EncoderPool`]).
pub struct Encoder {
    row_group_rows: usize,
    level: ZstdLevel,
    min_compressed_chunk_bytes: usize,
    schema: SchemaRef,
    parquet_schema: SchemaDescriptor,
    /// Writer properties by set of compressed columns (bit `i` = `COLUMNS[i]`).
    props: HashMap<u64, WriterProperties>,
    builders: Vec<ColumnBuilder>,
    /// Per-column estimated raw bytes of the file being encoded (scratch).
    column_bytes: Vec<usize>,
    /// [`MAX_ROW_GROUP_STRING_BYTES`]; lowered by unit tests.
    max_batch_bytes: usize,
}

/// Most writer-property sets an [`Encoder`] keeps.
const MAX_CACHED_PROPERTIES: usize = 64;

// The compressed-column set is a `u64` bit mask.
const _: () = assert!(COLUMNS.len() <= 64);

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("row_group_rows", &self.row_group_rows)
            .field("level", &self.level)
            .field(
                "min_compressed_chunk_bytes",
                &self.min_compressed_chunk_bytes,
            )
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Validates the options and prepares writer properties and builders.
    pub fn new(opts: &ArchiveOptions) -> Result<Encoder, ArchiveError> {
        if opts.row_group_rows == 0 {
            return Err(ArchiveError::InvalidOptions {
                reason: "row_group_rows must be at least 1".to_string(),
            });
        }
        let level =
            ZstdLevel::try_new(opts.zstd_level).map_err(|e| ArchiveError::InvalidOptions {
                reason: format!("zstd_level {}: {e}", opts.zstd_level),
            })?;
        let schema = schema();
        let parquet_schema = ArrowSchemaConverter::new()
            .convert(&schema)
            .map_err(|source| ArchiveError::Parquet {
                rel_path: "(archive schema)".to_string(),
                source,
            })?;
        Ok(Encoder {
            row_group_rows: opts.row_group_rows,
            level,
            min_compressed_chunk_bytes: opts.min_compressed_chunk_bytes,
            schema,
            parquet_schema,
            props: HashMap::new(),
            builders: COLUMNS
                .iter()
                .map(|c| ColumnBuilder::new(c.getter))
                .collect(),
            column_bytes: vec![0; COLUMNS.len()],
            max_batch_bytes: MAX_ROW_GROUP_STRING_BYTES,
        })
    }

    /// Encodes the events of one source object.
    ///
    /// Events are grouped by [`Partition`]; each group becomes one file named by
    /// [`file_name`]`(source_object)` in its partition directory, rows in input order. Files are
    /// returned sorted by `rel_path`. No events → no files. The output is a pure function of
    /// the arguments, the options and the crate version: the same input gives the same bytes.
    pub fn encode_object<E: Borrow<Event>>(
        &mut self,
        source_object: &str,
        events: &[E],
    ) -> Result<Vec<EncodedFile>, ArchiveError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let name = file_name(source_object);
        let mut groups = group_by_partition(events);
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let mut files = Vec::with_capacity(groups.len());
        for (dir, rows) in groups {
            let rel_path = format!("{dir}/{name}");
            let bytes = self.encode_rows(source_object, &rows, &rel_path)?;
            files.push(EncodedFile {
                rel_path,
                bytes,
                rows: rows.len() as u64,
            });
        }
        Ok(files)
    }

    /// Encodes rows into one Parquet file, one row group per batch.
    fn encode_rows(
        &mut self,
        source_object: &str,
        rows: &[&Event],
        rel_path: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let parquet_err = |source| ArchiveError::Parquet {
            rel_path: rel_path.to_string(),
            source,
        };
        // Estimated raw size of every column in this file: decides which columns are worth
        // compressing and whether row groups need the byte cap.
        let mut total = 0usize;
        let mut compressed = 0u64;
        for (i, (b, n)) in self
            .builders
            .iter()
            .zip(self.column_bytes.iter_mut())
            .enumerate()
        {
            *n = b.estimate_bytes(source_object, rows);
            total = total.saturating_add(*n);
            if *n >= self.min_compressed_chunk_bytes {
                compressed |= 1 << i;
            }
        }
        // `source_object` is estimated once (dictionary-encoded) but fills the Arrow column once
        // per row.
        let arrow_bytes = total.saturating_add(rows.len().saturating_mul(source_object.len()));
        let byte_capped = arrow_bytes > self.max_batch_bytes;

        let options = ArrowWriterOptions::new()
            .with_properties(self.properties(compressed))
            .with_parquet_schema(self.parquet_schema.clone())
            // The encoded Arrow schema is already in the cached properties.
            .with_skip_arrow_metadata(true);
        let capacity = total / 4 + 16 * 1024;
        let mut writer = ArrowWriter::try_new_with_options(
            Vec::with_capacity(capacity),
            Arc::clone(&self.schema),
            options,
        )
        .map_err(parquet_err)?;
        let mut start = 0;
        while start < rows.len() {
            let end = if byte_capped {
                self.batch_end(source_object, rows, start)?
            } else {
                rows.len().min(start.saturating_add(self.row_group_rows))
            };
            let batch_rows = rows.get(start..end).unwrap_or_default();
            let columns = self.fill(source_object, batch_rows, rows.len());
            let batch =
                RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(|source| {
                    ArchiveError::Arrow {
                        rel_path: rel_path.to_string(),
                        source,
                    }
                })?;
            writer.write(&batch).map_err(parquet_err)?;
            writer.flush().map_err(parquet_err)?;
            start = end;
        }
        writer.into_inner().map_err(parquet_err)
    }

    /// Writer properties (cached) for a set of zstd-compressed columns.
    fn properties(&mut self, compressed: u64) -> WriterProperties {
        // Real data uses a handful of column sets; keep the cache bounded whatever the input.
        if self.props.len() >= MAX_CACHED_PROPERTIES && !self.props.contains_key(&compressed) {
            self.props.clear();
        }
        let (row_group_rows, level, schema) = (self.row_group_rows, self.level, &self.schema);
        self.props
            .entry(compressed)
            .or_insert_with(|| writer_properties(row_group_rows, level, compressed, schema))
            .clone()
    }

    /// End (exclusive) of the batch starting at `start`: at most `row_group_rows` rows and, past
    /// the first row, at most [`MAX_ROW_GROUP_STRING_BYTES`] of string data.
    fn batch_end(
        &self,
        source_object: &str,
        rows: &[&Event],
        start: usize,
    ) -> Result<usize, ArchiveError> {
        let limit = rows.len().min(start.saturating_add(self.row_group_rows));
        let mut bytes = 0usize;
        let mut end = start;
        for e in rows.get(start..limit).unwrap_or_default() {
            let w = string_bytes(e) + source_object.len();
            if w > i32::MAX as usize {
                return Err(ArchiveError::EventTooLarge {
                    source_object: source_object.to_string(),
                    record_index: e.record_index,
                    bytes: w,
                });
            }
            if end > start && bytes + w > self.max_batch_bytes {
                break;
            }
            bytes += w;
            end += 1;
        }
        Ok(end)
    }

    /// Appends `rows` (a batch of a file of `file_rows` rows) to every column builder, column by
    /// column, and finishes the arrays.
    fn fill(&mut self, source_object: &str, rows: &[&Event], file_rows: usize) -> Vec<ArrayRef> {
        let max_batch_bytes = self.max_batch_bytes;
        self.builders
            .iter_mut()
            .zip(&self.column_bytes)
            .map(|(b, &file_bytes)| {
                // This batch's share of the column's bytes (exact for single-batch files).
                let bytes = if rows.len() == file_rows {
                    file_bytes
                } else {
                    let share = file_bytes as u128 * rows.len() as u128 / file_rows.max(1) as u128;
                    (usize::try_from(share).unwrap_or(usize::MAX) / 8 * 9).min(max_batch_bytes)
                };
                b.fill(source_object, rows, bytes)
            })
            .collect()
    }
}

/// Total bytes of an event's string columns (not counting `source_object`).
fn string_bytes(e: &Event) -> usize {
    let mut n = e.identity.kind.as_str().len();
    for c in COLUMNS {
        if let Getter::Utf8(get) = c.getter {
            n += get(e).map_or(0, str::len);
        }
    }
    n
}

/// The Parquet writer properties: zstd for the columns in `compressed` (bit `i` =
/// `COLUMNS[i]`), uncompressed for the rest, per-column dictionary/statistics choices from
/// [`COLUMNS`], fixed `created_by`, the schema version and the encoded Arrow schema as key-value
/// metadata.
fn writer_properties(
    row_group_rows: usize,
    level: ZstdLevel,
    compressed: u64,
    schema: &SchemaRef,
) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_created_by(CREATED_BY.to_string())
        .set_compression(Compression::UNCOMPRESSED)
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                SCHEMA_VERSION_KEY.to_string(),
                ARCHIVE_SCHEMA_VERSION.to_string(),
            ),
            KeyValue::new(
                SCHEMA_MINOR_KEY.to_string(),
                ARCHIVE_SCHEMA_MINOR.to_string(),
            ),
        ]));
    for (i, c) in COLUMNS.iter().enumerate() {
        let path = ColumnPath::from(c.name);
        if compressed & (1 << i) != 0 {
            b = b.set_column_compression(path.clone(), Compression::ZSTD(level));
        }
        if !c.dictionary {
            b = b.set_column_dictionary_enabled(path.clone(), false);
        }
        if !c.statistics {
            b = b.set_column_statistics_enabled(path, EnabledStatistics::None);
        }
    }
    let mut props = b.build();
    add_encoded_arrow_schema_to_metadata(schema, &mut props);
    props
}

/// Groups events by partition directory, keeping input order inside each group.
///
/// Events are first keyed by their *raw* (account, region, day) without allocating; the
/// sanitised directory is computed once per distinct raw key, and raw keys that sanitise to the
/// same directory (e.g. absent and empty account) share one group.
fn group_by_partition<E: Borrow<Event>>(events: &[E]) -> Vec<(String, Vec<&Event>)> {
    type RawKey<'a> = (Option<&'a str>, Option<&'a str>, i64);
    let mut by_raw: HashMap<RawKey<'_>, usize> = HashMap::new();
    let mut by_dir: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(String, Vec<&Event>)> = Vec::new();
    let mut last: Option<(RawKey<'_>, usize)> = None;
    for e in events {
        let e: &Event = e.borrow();
        let key: RawKey<'_> = (e.account(), e.aws_region.as_deref(), day_of(e.event_time));
        let idx = match last {
            Some((k, i)) if k == key => i,
            _ => {
                let i = *by_raw.entry(key).or_insert_with(|| {
                    let dir = Partition::from_parts(key.0, key.1, key.2).dir();
                    *by_dir.entry(dir.clone()).or_insert_with(|| {
                        groups.push((dir, Vec::new()));
                        groups.len() - 1
                    })
                });
                last = Some((key, i));
                i
            }
        };
        if let Some(g) = groups.get_mut(idx) {
            g.1.push(e);
        }
    }
    groups
}

/// A column builder together with how its values are read from an event.
enum ColumnBuilder {
    Utf8(fn(&Event) -> Option<&str>, StringBuilder),
    PrincipalType(StringBuilder),
    SourceObject(StringBuilder),
    Bool(fn(&Event) -> Option<bool>, BooleanBuilder),
    Timestamp(fn(&Event) -> Option<i64>, TimestampMicrosecondBuilder),
    EventTime(TimestampMicrosecondBuilder),
    RecordIndex(UInt32Builder),
}

impl ColumnBuilder {
    /// An empty builder; [`ColumnBuilder::fill`] sizes it for each batch.
    fn new(getter: Getter) -> ColumnBuilder {
        let ts = || TimestampMicrosecondBuilder::new().with_timezone(TIMESTAMP_TZ);
        match getter {
            Getter::Utf8(get) => ColumnBuilder::Utf8(get, StringBuilder::new()),
            Getter::PrincipalType => ColumnBuilder::PrincipalType(StringBuilder::new()),
            Getter::SourceObject => ColumnBuilder::SourceObject(StringBuilder::new()),
            Getter::Bool(get) => ColumnBuilder::Bool(get, BooleanBuilder::new()),
            Getter::Timestamp(get) => ColumnBuilder::Timestamp(get, ts()),
            Getter::EventTime => ColumnBuilder::EventTime(ts()),
            Getter::RecordIndex => ColumnBuilder::RecordIndex(UInt32Builder::new()),
        }
    }

    /// Estimated raw (pre-encoding) bytes of this column for `rows`.
    fn estimate_bytes(&self, source_object: &str, rows: &[&Event]) -> usize {
        match self {
            ColumnBuilder::Utf8(get, _) => rows.iter().map(|e| get(e).map_or(0, str::len)).sum(),
            ColumnBuilder::PrincipalType(_) => {
                rows.iter().map(|e| e.identity.kind.as_str().len()).sum()
            }
            // Dictionary-encoded, one distinct value per file.
            ColumnBuilder::SourceObject(_) => source_object.len(),
            ColumnBuilder::Bool(..) => rows.len() / 8,
            ColumnBuilder::Timestamp(get, _) => {
                8 * rows.iter().filter(|e| get(e).is_some()).count()
            }
            ColumnBuilder::EventTime(_) => 8 * rows.len(),
            ColumnBuilder::RecordIndex(_) => 4 * rows.len(),
        }
    }

    /// Appends `rows` and finishes the array. `string_bytes` is the expected value bytes of a
    /// string column: the builder is sized up front, so filling never reallocates. (Arrow
    /// builders hand their buffers to the finished array, so a "reused" builder starts empty
    /// anyway; sizing it exactly is what saves the copies.)
    fn fill(&mut self, source_object: &str, rows: &[&Event], string_bytes: usize) -> ArrayRef {
        let n = rows.len();
        let sized = || StringBuilder::with_capacity(n, string_bytes);
        match self {
            ColumnBuilder::Utf8(_, b) | ColumnBuilder::PrincipalType(b) => *b = sized(),
            ColumnBuilder::SourceObject(b) => {
                *b = StringBuilder::with_capacity(n, n.saturating_mul(source_object.len()));
            }
            ColumnBuilder::Bool(_, b) => *b = BooleanBuilder::with_capacity(n),
            ColumnBuilder::Timestamp(_, b) | ColumnBuilder::EventTime(b) => {
                *b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone(TIMESTAMP_TZ);
            }
            ColumnBuilder::RecordIndex(b) => *b = UInt32Builder::with_capacity(n),
        }
        match self {
            ColumnBuilder::Utf8(get, b) => {
                for e in rows {
                    b.append_option(get(e));
                }
                Arc::new(b.finish())
            }
            ColumnBuilder::PrincipalType(b) => {
                for e in rows {
                    b.append_value(e.identity.kind.as_str());
                }
                Arc::new(b.finish())
            }
            ColumnBuilder::SourceObject(b) => {
                for _ in rows {
                    b.append_value(source_object);
                }
                Arc::new(b.finish())
            }
            ColumnBuilder::Bool(get, b) => {
                for e in rows {
                    b.append_option(get(e));
                }
                Arc::new(b.finish())
            }
            ColumnBuilder::Timestamp(get, b) => {
                for e in rows {
                    b.append_option(get(e));
                }
                Arc::new(b.finish())
            }
            ColumnBuilder::EventTime(b) => {
                for e in rows {
                    b.append_value(e.event_time);
                }
                Arc::new(b.finish())
            }
            ColumnBuilder::RecordIndex(b) => {
                for e in rows {
                    b.append_value(e.record_index);
                }
                Arc::new(b.finish())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(account: &str, region: Option<&str>, t: i64, idx: u32) -> Event {
        Event {
            recipient_account_id: Some(account.to_string()),
            aws_region: region.map(str::to_string),
            event_time: t,
            record_index: idx,
            ..Event::default()
        }
    }

    #[test]
    fn grouping_keeps_order_and_merges_equal_dirs() {
        let day = 86_400_000_000;
        let events = vec![
            ev("1", Some("r"), 0, 0),
            ev("2", Some("r"), 0, 1),
            ev("1", Some("r"), 5, 2),
            ev("1", Some("r"), day, 3),
            ev("1", None, 0, 4),
            ev("1", Some(""), 0, 5),
            ev("1", Some("r"), 7, 6),
        ];
        let groups = group_by_partition(&events);
        let summary: Vec<(&str, Vec<u32>)> = groups
            .iter()
            .map(|(d, rows)| (d.as_str(), rows.iter().map(|e| e.record_index).collect()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("account=1/region=r/date=1970-01-01", vec![0, 2, 6]),
                ("account=2/region=r/date=1970-01-01", vec![1]),
                ("account=1/region=r/date=1970-01-02", vec![3]),
                ("account=1/region=unknown/date=1970-01-01", vec![4, 5]),
            ]
        );
    }

    #[test]
    fn encoder_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Encoder>();
    }

    #[test]
    fn invalid_options() {
        let bad_rows = ArchiveOptions {
            row_group_rows: 0,
            ..ArchiveOptions::default()
        };
        assert!(matches!(
            Encoder::new(&bad_rows),
            Err(ArchiveError::InvalidOptions { .. })
        ));
        let bad_level = ArchiveOptions {
            zstd_level: 99,
            ..ArchiveOptions::default()
        };
        assert!(matches!(
            Encoder::new(&bad_level),
            Err(ArchiveError::InvalidOptions { .. })
        ));
    }

    #[test]
    fn batches_respect_row_and_byte_limits() {
        let enc = Encoder::new(&ArchiveOptions {
            row_group_rows: 3,
            ..ArchiveOptions::default()
        })
        .unwrap();
        let small: Vec<Event> = (0..7).map(|i| ev("1", None, 0, i)).collect();
        let refs: Vec<&Event> = small.iter().collect();
        assert_eq!(enc.batch_end("o", &refs, 0).unwrap(), 3);
        assert_eq!(enc.batch_end("o", &refs, 6).unwrap(), 7);

        let mut big = ev("1", None, 0, 0);
        big.request_parameters = Some("x".repeat(MAX_ROW_GROUP_STRING_BYTES / 2 + 1));
        let bigs = [big.clone(), big.clone(), big];
        let refs: Vec<&Event> = bigs.iter().collect();
        // One oversized-pair per batch: the second would cross the byte limit.
        assert_eq!(enc.batch_end("o", &refs, 0).unwrap(), 1);
        assert_eq!(enc.batch_end("o", &refs, 1).unwrap(), 2);
    }

    fn row_groups(bytes: &[u8]) -> Vec<i64> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes.to_vec())).unwrap();
        reader
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows())
            .collect()
    }

    #[test]
    fn byte_cap_splits_row_groups() {
        let mut enc = Encoder::new(&ArchiveOptions::default()).unwrap();
        enc.max_batch_bytes = 1000;
        let events: Vec<Event> = (0..5)
            .map(|i| {
                let mut e = ev("1", None, 0, i);
                e.request_parameters = Some(format!("{i}{}", "x".repeat(399)));
                e
            })
            .collect();
        // Each event carries ~400 bytes (+ "Missing" + the object name): two per row group.
        let files = enc.encode_object("o", &events).unwrap();
        assert_eq!(row_groups(&files[0].bytes), [2, 2, 1]);

        // A long object name counts once per row, too.
        let small: Vec<Event> = (0..4).map(|i| ev("1", None, 0, i)).collect();
        let name = "n".repeat(450);
        let files = enc.encode_object(&name, &small).unwrap();
        assert_eq!(row_groups(&files[0].bytes), [2, 2]);

        // Under the cap: row groups by row count only.
        enc.max_batch_bytes = MAX_ROW_GROUP_STRING_BYTES;
        let files = enc.encode_object(&name, &small).unwrap();
        assert_eq!(row_groups(&files[0].bytes), [4]);
    }

    #[test]
    fn a_pool_encodes_like_an_encoder_and_makes_encoders_only_when_all_are_busy() {
        let opts = ArchiveOptions::default();
        let events: Vec<Event> = (0..50).map(|i| ev("1", None, 0, i)).collect();
        let pool = EncoderPool::new(&opts).unwrap();
        let want = encode_object("o", &events, &opts).unwrap();
        assert_eq!(pool.encode_object("o", &events).unwrap(), want);
        assert_eq!(pool.encode_object("o", &events).unwrap(), want);
        assert_eq!(pool.lock().len(), 1, "sequential callers share one encoder");
        // all encoders busy: a new one is made, and kept for the next caller
        let busy = pool.lock().pop();
        assert_eq!(pool.encode_object("o", &events).unwrap(), want);
        pool.lock().extend(busy);
        assert_eq!(pool.lock().len(), 2);
        assert!(EncoderPool::new(&ArchiveOptions {
            row_group_rows: 0,
            ..opts
        })
        .is_err());
    }
}
