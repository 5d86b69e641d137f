//! Splitting a byte stream into output lines: newline-terminated, `\r\n` tolerated, and never
//! longer than [`MAX_LINE_BYTES`] (longer lines arrive in pieces, none dropped).

use crewship_core::log::Stream;
use crewship_core::runtime::{OutputLine, RuntimeError};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Pulls lines out of a reader.
pub struct LineReader<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader: BufReader::with_capacity(MAX_LINE_BYTES, reader),
            line: Vec::new(),
        }
    }

    /// The next line without its terminator, or `None` at the end of the stream.
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok((!self.line.is_empty()).then(|| finish(&mut self.line)));
            }
            let room = MAX_LINE_BYTES - self.line.len();
            let window = &available[..available.len().min(room)];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                self.line.extend_from_slice(&window[..i]);
                self.reader.consume(i + 1);
                if self.line.last() == Some(&b'\r') {
                    self.line.pop();
                }
                return Ok(Some(finish(&mut self.line)));
            }
            let n = window.len();
            self.line.extend_from_slice(window);
            self.reader.consume(n);
            if self.line.len() >= MAX_LINE_BYTES {
                return Ok(Some(split_at_char_boundary(&mut self.line)));
            }
        }
    }
}

/// Sends every line of `reader` as `stream` until the reader ends or the receiver is gone.
pub async fn forward<R: AsyncRead + Unpin>(
    reader: R,
    stream: Stream,
    tx: &mpsc::Sender<Result<OutputLine, RuntimeError>>,
) -> std::io::Result<()> {
    let mut lines = LineReader::new(reader);
    while let Some(content) = lines.next_line().await? {
        if tx.send(Ok(OutputLine { stream, content })).await.is_err() {
            break;
        }
    }
    Ok(())
}

fn finish(line: &mut Vec<u8>) -> String {
    let s = String::from_utf8_lossy(line).into_owned();
    line.clear();
    s
}

/// Takes the longest prefix that does not end inside a UTF-8 character; the rest of the
/// character stays for the next piece.
fn split_at_char_boundary(line: &mut Vec<u8>) -> String {
    let keep = match std::str::from_utf8(line) {
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => line.len() - e.valid_up_to(),
        _ => 0,
    };
    let tail = line.split_off(line.len() - keep);
    let piece = finish(line);
    *line = tail;
    piece
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8]) -> Vec<String> {
        let mut reader = LineReader::new(input);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn splits_on_newlines_and_keeps_a_final_partial_line() {
        assert_eq!(lines_of(b"a\r\nb\n\nc").await, ["a", "b", "", "c"]);
        assert!(lines_of(b"").await.is_empty());
    }

    #[tokio::test]
    async fn long_lines_are_split_not_dropped() {
        let long = "x".repeat(MAX_LINE_BYTES * 2 + 10);
        let out = lines_of(format!("{long}\nend\n").as_bytes()).await;
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].len(), MAX_LINE_BYTES);
        assert_eq!(out[2].len(), 10);
        assert_eq!(out.concat(), format!("{long}end"));
    }

    #[tokio::test]
    async fn splits_never_cut_a_character() {
        let long = "é".repeat(MAX_LINE_BYTES); // 2 bytes each
        let out = lines_of(format!("a{long}\n").as_bytes()).await;
        assert!(out.iter().all(|l| !l.contains('\u{FFFD}')));
        assert_eq!(out.concat(), format!("a{long}"));
    }
}
