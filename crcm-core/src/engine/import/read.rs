//! Reading CSV rows with their line numbers, in bounded memory.

use std::collections::VecDeque;
use std::io::Read;

use super::ImportError;

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
}

impl<R> Lines<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
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
    if !reader.read_byte_record(&mut header)? {
        return Err(ImportError::NoHeader);
    }
    Ok((reader, header))
}

/// Reads the next data row and its line: `None` at the end.
pub(super) fn next_row<R: Read>(
    reader: &mut csv::Reader<Lines<R>>,
    record: &mut csv::ByteRecord,
) -> Result<Option<u64>, ImportError> {
    if !reader.read_byte_record(record)? {
        return Ok(None);
    }
    let start = record.position().map_or(0, csv::Position::byte);
    Ok(Some(reader.get_mut().line_of(start)))
}
