//! Reading CSV rows with their line numbers, in bounded memory.

use std::collections::VecDeque;
use std::io::Read;

use super::ImportError;
use crate::domain::failure::ImportFailure;
use crate::domain::limits;

/// Counts the lines of what the CSV reader reads, so that a row's line is
/// right whatever its line ends (the csv crate's own count is one short
/// after a CRLF: it places a record after the `\r`). Keeps only the line
/// breaks the reader has read ahead, so memory stays bounded.
pub(super) struct Lines<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Offsets of the line breaks not yet passed.
    ahead: VecDeque<u64>,
    /// Line breaks passed.
    passed: u64,
    /// Where the record being read starts: reading further than
    /// [`limits::IMPORT_RECORD_BYTES`] (and the CSV reader's read-ahead)
    /// past it fails, so one endless record cannot fill the memory.
    record_start: u64,
    /// Whether a read failed for that reason.
    too_long: bool,
}

/// How far the CSV reader reads ahead of the record it parses (its buffer).
const READ_AHEAD: u64 = 64 * 1024;

impl<R> Lines<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
            record_start: 0,
            too_long: false,
        }
    }

    /// The line of a record starting at byte `start` (called with
    /// increasing starts).
    fn line_of(&mut self, start: u64) -> u64 {
        while self.ahead.front().is_some_and(|&at| at <= start) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.offset.saturating_sub(self.record_start) > limits::IMPORT_RECORD_BYTES as u64 + READ_AHEAD {
            self.too_long = true;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a record longer than the import allows",
            ));
        }
        let n = self.inner.read(buf)?;
        let base = self.offset;
        self.ahead.extend(
            buf[..n]
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| base + i as u64),
        );
        self.offset += n as u64;
        Ok(n)
    }
}

/// How a file's bytes are read: its encoding and delimiter, as the options
/// give them (`None`: found from the file).
#[derive(Clone, Copy, Debug)]
pub(super) struct Dialect {
    encoding: Option<&'static encoding_rs::Encoding>,
    delimiter: Option<u8>,
}

impl Dialect {
    /// The options' encoding label and delimiter, checked.
    pub(super) fn of(options: &super::ImportOptions) -> Result<Self, ImportError> {
        let dialect = |message: String| ImportError::from(ImportFailure::Dialect { message });
        let encoding = match &options.encoding {
            None => None,
            Some(label) => Some(
                encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
                    dialect(format!(
                        "unknown encoding {label:?}: use a label such as utf-8, windows-1252, latin1 or utf-16le"
                    ))
                })?,
            ),
        };
        let delimiter = match options.delimiter {
            None => None,
            Some(c) if c.is_ascii() && !matches!(c, '"' | '\n' | '\r') => Some(c as u8),
            Some(c) => {
                return Err(dialect(format!(
                    "delimiter {c:?}: use one ASCII character other than a quote or a line break"
                )));
            }
        };
        Ok(Self { encoding, delimiter })
    }
}

/// The file's text as a byte stream the CSV reader takes.
pub(super) type Text<'a> = Box<dyn Read + Send + 'a>;

/// What was found out about a file as it was opened.
#[derive(Clone, Debug)]
pub(super) struct Opened {
    /// The encoding the text was read in (`UTF-8` when passed through).
    pub(super) encoding: &'static str,
    /// The delimiter used.
    pub(super) delimiter: u8,
}

/// The candidates a header line's delimiter is found among, most likely first.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The delimiter a header line uses: the candidate it holds most of outside
/// quotes (the first in [`DELIMITERS`] on a tie), `,` when it holds none.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..DELIMITERS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

/// Reads until `buf` holds `want` bytes, or a line break when `line`, or
/// the source ends.
fn fill<R: Read>(source: &mut R, buf: &mut Vec<u8>, want: usize, line: bool) -> std::io::Result<()> {
    let mut chunk = [0u8; 1024];
    while buf.len() < want && !(line && buf.contains(&b'\n')) {
        let take = (want - buf.len()).min(chunk.len());
        let n = source.read(&mut chunk[..take])?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// The most of the decoded text the delimiter is sniffed from (the header
/// line, up to this).
const SNIFF_BYTES: usize = 64 * 1024;

/// The source as text: decoded from the dialect's encoding, or from UTF-16
/// when the file starts with a UTF-16 byte order mark; otherwise its bytes
/// as they are (UTF-8, checked value by value, so a row with other bytes is
/// refused with its column, not the whole file).
fn decoded<'a, R: Read + Send + 'a>(mut source: R, dialect: &Dialect) -> Result<(Text<'a>, &'static str), ImportError> {
    use encoding_rs::{UTF_8, UTF_16BE, UTF_16LE};
    let mut head = Vec::with_capacity(2);
    fill(&mut source, &mut head, 2, false)?;
    let bom = match head.as_slice() {
        [0xFF, 0xFE] => Some(UTF_16LE),
        [0xFE, 0xFF] => Some(UTF_16BE),
        _ => None,
    };
    let whole = std::io::Cursor::new(head).chain(source);
    match bom.or(dialect.encoding.filter(|e| *e != UTF_8)) {
        None => Ok((Box::new(whole), UTF_8.name())),
        Some(encoding) => Ok((
            Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(encoding))
                    .bom_override(true)
                    .build(whole),
            ),
            encoding.name(),
        )),
    }
}

/// A CSV reader over the source, positioned after the header: the text
/// decoded ([`Dialect`]), its delimiter given or found from the header line.
pub(super) fn open_csv<'a, R: Read + Send + 'a>(
    source: R,
    dialect: &Dialect,
) -> Result<(csv::Reader<Lines<Text<'a>>>, csv::ByteRecord, Opened), ImportError> {
    let (mut text, encoding) = decoded(source, dialect)?;
    let mut head = Vec::new();
    // The header line only: the rows are read as they are needed.
    fill(&mut text, &mut head, SNIFF_BYTES, true)?;
    let delimiter = dialect.delimiter.unwrap_or_else(|| sniff_delimiter(&head));
    let text: Text<'a> = Box::new(std::io::Cursor::new(head).chain(text));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(Lines::new(text));
    let mut header = csv::ByteRecord::new();
    if !read_record(&mut reader, &mut header)? {
        return Err(ImportError::from(ImportFailure::NoHeader));
    }
    Ok((reader, header, Opened { encoding, delimiter }))
}

/// Reads the next data row and its line: `None` at the end.
pub(super) fn next_row<R: Read>(
    reader: &mut csv::Reader<Lines<R>>,
    record: &mut csv::ByteRecord,
) -> Result<Option<u64>, ImportError> {
    if !read_record(reader, record)? {
        return Ok(None);
    }
    let start = record.position().map_or(0, csv::Position::byte);
    Ok(Some(reader.get_mut().line_of(start)))
}

/// Reads one record, refusing one longer than [`limits::IMPORT_RECORD_BYTES`]
/// with its line.
fn read_record<R: Read>(reader: &mut csv::Reader<Lines<R>>, record: &mut csv::ByteRecord) -> Result<bool, ImportError> {
    let start = reader.position().byte();
    reader.get_mut().record_start = start;
    match reader.read_byte_record(record) {
        Ok(more) => Ok(more),
        Err(_) if reader.get_ref().too_long => Err(ImportError::from(ImportFailure::RecordTooLong {
            line: reader.get_mut().line_of(start),
            max_bytes: limits::IMPORT_RECORD_BYTES,
        })),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header, one row, then a record that never ends (as `/dev/zero`).
    struct Endless {
        head: std::io::Cursor<&'static [u8]>,
        served: u64,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.head.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            buf.fill(b'x');
            self.served += buf.len() as u64;
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_record_is_refused_with_its_line_in_bounded_memory() {
        let mut source = Endless {
            head: std::io::Cursor::new(b"first_name,phone\r\nAda,+12125550147\r\n"),
            served: 0,
        };
        let plain = Dialect {
            encoding: None,
            delimiter: None,
        };
        let (mut reader, header, _) = open_csv(&mut source, &plain).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header.len(), 2);
        let mut record = csv::ByteRecord::new();
        assert_eq!(next_row(&mut reader, &mut record).ok(), Some(Some(2)));
        match next_row(&mut reader, &mut record) {
            Err(ImportError::Failure(ImportFailure::RecordTooLong { line: 3, max_bytes })) => {
                assert_eq!(max_bytes, limits::IMPORT_RECORD_BYTES)
            }
            other => panic!("expected RecordTooLong on line 3, got {other:?}"),
        }
        drop(reader);
        let limit = limits::IMPORT_RECORD_BYTES as u64 + READ_AHEAD;
        // The delimiter is sniffed from the first 64 KiB, read ahead of the rest.
        assert!(source.served <= limit + 2 * 64 * 1024, "read {} bytes", source.served);
        // A record at the limit is read.
        let big = format!(
            "first_name,phone\n{},+12125550147\n",
            "y".repeat(limits::IMPORT_RECORD_BYTES - 20)
        );
        let (mut reader, _, _) = open_csv(big.as_bytes(), &plain).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next_row(&mut reader, &mut record).ok(), Some(Some(2)));
    }
}

#[cfg(test)]
mod dialect_tests {
    use super::*;

    fn header_of(bytes: &[u8], dialect: &Dialect) -> (Vec<String>, String, u8) {
        let (_, header, opened) = open_csv(bytes, dialect).unwrap_or_else(|e| panic!("{e}"));
        let cells = header.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        (cells, opened.encoding.to_owned(), opened.delimiter)
    }

    const PLAIN: Dialect = Dialect {
        encoding: None,
        delimiter: None,
    };

    #[test]
    fn the_delimiter_is_the_one_the_header_holds_most_of() {
        assert_eq!(header_of(b"a;b;c\n1;2;3\n", &PLAIN).2, b';');
        assert_eq!(header_of(b"a\tb\n", &PLAIN).2, b'\t');
        assert_eq!(header_of(b"\"x;y\",b,c\n", &PLAIN).2, b',', "quoted ; do not count");
        assert_eq!(header_of(b"single\n", &PLAIN).2, b',');
        let (cells, _, _) = header_of(b"contact_name;phone;source\n", &PLAIN);
        assert_eq!(cells, ["contact_name", "phone", "source"]);
    }

    #[test]
    fn utf16_with_a_bom_and_a_named_encoding_are_decoded() {
        let text = "contact_name,phone\nJosé,+34 912 345 678\n";
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let (cells, encoding, _) = header_of(&utf16, &PLAIN);
        assert_eq!(encoding, "UTF-16LE");
        assert_eq!(cells[1], "phone");
        let latin = b"nom;t\xE9l\xE9phone\n";
        let windows = Dialect {
            encoding: encoding_rs::Encoding::for_label(b"windows-1252"),
            delimiter: None,
        };
        let (cells, encoding, delimiter) = header_of(latin, &windows);
        assert_eq!(
            (cells[1].as_str(), encoding.as_str(), delimiter),
            ("téléphone", "windows-1252", b';')
        );
    }
}
