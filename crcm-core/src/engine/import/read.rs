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

/// A CSV reader over the source, positioned after the header.
pub(super) fn open_csv<R: Read>(source: R) -> Result<(csv::Reader<Lines<R>>, csv::ByteRecord), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Lines::new(source));
    let mut header = csv::ByteRecord::new();
    if !read_record(&mut reader, &mut header)? {
        return Err(ImportError::from(ImportFailure::NoHeader));
    }
    Ok((reader, header))
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
        let (mut reader, header) = open_csv(&mut source).unwrap_or_else(|e| panic!("{e}"));
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
        assert!(source.served <= limit + 64 * 1024, "read {} bytes", source.served);
        // A record at the limit is read.
        let big = format!(
            "first_name,phone\n{},+12125550147\n",
            "y".repeat(limits::IMPORT_RECORD_BYTES - 20)
        );
        let (mut reader, _) = open_csv(big.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next_row(&mut reader, &mut record).ok(), Some(Some(2)));
    }
}
