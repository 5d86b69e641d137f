//! An agent's output as log entries: reading its lines as they come, and decoding them per CLI
//! adapter (plain lines, or claude-code's stream-json with the answer, error and cost its
//! `result` line reports).

use crewship_core::agent::Adapter;
use crewship_core::log::Stream;
use crewship_core::runtime::{Execution, OutputLine};
use futures_util::FutureExt;

use crate::claude_stream::{self, Reported};
use crate::output::RunOutput;

/// How much of claude-code's own error text goes into `error_message`.
const REPORTED_ERROR_CHARS: usize = 500;

/// Reads output lines until both streams close, writing a batch whenever the agent has
/// nothing more ready (so lines go out promptly and a fast writer costs few store writes).
pub(crate) async fn pump(
    exec: &mut dyn Execution,
    output: &mut RunOutput,
    decoder: &mut Decoder,
) -> Result<(), String> {
    loop {
        let next = match exec.next_line().now_or_never() {
            Some(next) => next,
            None => {
                output.flush().await;
                exec.next_line().await
            }
        };
        match next {
            Some(Ok(line)) => decoder.write(line, output).await,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Ok(()),
        }
    }
}

/// Turns output lines into log entries, per CLI adapter.
pub(crate) enum Decoder {
    /// One entry per line, `event` `output`.
    Plain,
    /// claude-code's stream-json on stdout; remembers the last `result` line.
    ClaudeStream { reported: Option<Reported> },
}

impl Decoder {
    pub(crate) fn for_adapter(adapter: Adapter) -> Self {
        match adapter {
            Adapter::Command => Self::Plain,
            Adapter::ClaudeCode => Self::ClaudeStream { reported: None },
        }
    }

    pub(crate) async fn write(&mut self, line: OutputLine, output: &mut RunOutput) {
        match (self, line.stream) {
            (Self::ClaudeStream { reported }, Stream::Stdout) => {
                let (entries, error) = claude_stream::parse_line(&line.content);
                for e in entries {
                    output
                        .push(Stream::Stdout, e.level, e.event, e.content)
                        .await;
                }
                if error.is_some() {
                    *reported = error;
                }
            }
            (_, stream) => {
                let level = if stream == Stream::Stderr {
                    "error"
                } else {
                    "info"
                };
                output.push(stream, level, "output", line.content).await;
            }
        }
    }

    /// What claude-code's `result` line reported, if it wrote one.
    pub(crate) fn reported(&self) -> Option<&Reported> {
        match self {
            Self::ClaudeStream { reported } => reported.as_ref(),
            Self::Plain => None,
        }
    }
}

pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(REPORTED_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
