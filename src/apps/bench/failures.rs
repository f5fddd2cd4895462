//! Why a run's connections failed, said once: each distinct reason with how many connections
//! it ended, and what to check where that is clear.

use std::fmt;
use std::io::ErrorKind;

use fullduplex::client::{ClientError, Ended};

/// Distinct reasons kept; connections that end for yet another reason are only counted.
const MAX_REASONS: usize = 4;

/// The reasons connections ended before the run closed them, each once with its count.
#[derive(Default)]
pub(crate) struct Failures {
    reasons: Vec<(String, usize)>,
    /// Connections that ended for a reason past the first [`MAX_REASONS`].
    others: usize,
    /// Set when the run closes its connections: what ends then is no failure.
    pub(crate) closing: bool,
}

impl Failures {
    /// Notes why a connection ended.
    pub(crate) fn note(&mut self, ended: &Ended) {
        if self.closing {
            return;
        }
        let reason = match ended {
            Ended::NotOpened(error) => with_hint(ended.to_string(), error),
            Ended::Closed(_) => ended.to_string(),
        };
        if let Some((_, count)) = self.reasons.iter_mut().find(|(known, _)| *known == reason) {
            *count += 1;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.push((reason, 1));
        } else {
            self.others += 1;
        }
    }

    /// Whether no connection failed.
    pub(crate) fn is_empty(&self) -> bool {
        self.reasons.is_empty()
    }

    /// The sentence for a run whose `connections` to `url` all ended, `opened` of them after
    /// opening.
    pub(crate) fn all_ended(&self, url: &str, connections: usize, opened: usize) -> String {
        let all = match connections {
            1 => "the connection".to_owned(),
            n => format!("all {n} connections"),
        };
        let why = if self.is_empty() {
            "no reason was reported".to_owned()
        } else {
            self.to_string()
        };
        match opened {
            0 => format!("{all} to {url} failed: {why}"),
            _ => format!("{all} to {url} ended before the run did ({opened} had opened): {why}"),
        }
    }
}

impl fmt::Display for Failures {
    /// One reason alone; several as `COUNT × REASON`, separated by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ([(reason, _)], 0) = (self.reasons.as_slice(), self.others) {
            return f.write_str(reason);
        }
        for (i, (reason, count)) in self.reasons.iter().enumerate() {
            let separator = if i == 0 { "" } else { "; " };
            write!(f, "{separator}{count} × {reason}")?;
        }
        if self.others > 0 {
            write!(f, "; {} for other reasons", self.others)?;
        }
        Ok(())
    }
}

/// A failure's sentence with what to check after it, in parentheses, when that is clear.
pub(crate) fn with_hint(sentence: String, error: &ClientError) -> String {
    match hint(error) {
        Some(hint) => format!("{sentence} ({hint})"),
        None => sentence,
    }
}

/// What to check for an error that has a usual cause.
fn hint(error: &ClientError) -> Option<&'static str> {
    if let Some(hint) = crate::apps::tls::hint(error) {
        return Some(hint);
    }
    match error {
        ClientError::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused => Some("is a server listening there?"),
            ErrorKind::TimedOut => {
                Some("is the server up? an overloaded one may need fewer connections at once")
            }
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset => {
                Some("is it a WebSocket server, and is the scheme right, ws:// or wss://?")
            }
            ErrorKind::AddrNotAvailable => {
                Some("this machine ran out of local ports: use fewer connections")
            }
            _ if e.raw_os_error() == Some(libc::EMFILE) => {
                Some("too many open files: raise the limit with `ulimit -n`")
            }
            _ => None,
        },
        ClientError::Refused(refusal) => match refusal.status {
            200 | 404 => Some("is the URL's path the server's WebSocket endpoint?"),
            401 | 403 => Some("does the server want a token or another Origin?"),
            503 => Some("the server is at its connection limit"),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fullduplex::client::Refusal;
    use std::io;

    fn refused() -> Ended {
        Ended::NotOpened(io::Error::from(ErrorKind::ConnectionRefused).into())
    }

    #[test]
    fn one_reason_is_said_once_with_its_hint() {
        let mut failures = Failures::default();
        for _ in 0..100 {
            failures.note(&refused());
        }
        assert_eq!(
            failures.all_ended("ws://127.0.0.1:9/", 100, 0),
            "all 100 connections to ws://127.0.0.1:9/ failed: could not connect: \
             connection refused (is a server listening there?)"
        );
    }

    #[test]
    fn several_reasons_are_counted() {
        let mut failures = Failures::default();
        failures.note(&refused());
        failures.note(&refused());
        let not_found = Refusal {
            status: 404,
            headers: Vec::new(),
            body: Vec::new(),
        };
        failures.note(&Ended::NotOpened(ClientError::Refused(not_found)));
        let text = failures.to_string();
        assert!(
            text.starts_with("2 × could not connect: connection refused"),
            "{text}"
        );
        assert!(text.ends_with("; 1 × could not connect: the server answered 404 Not Found, not 101 Switching Protocols (is the URL's path the server's WebSocket endpoint?)"), "{text}");
    }

    #[test]
    fn what_ends_while_the_run_closes_is_no_failure() {
        let mut failures = Failures {
            closing: true,
            ..Failures::default()
        };
        failures.note(&refused());
        assert!(failures.is_empty());
    }
}
