//! Server log records and their text form, modelled on PostgreSQL's `stderr` log with
//! `log_line_prefix = '%m [%p] '`.
//!
//! A record is plain data (the negotiation core emits them); [`Logger`] writes them. Each line
//! of a record (the message, then DETAIL, HINT and CONTEXT) carries the prefix, as PostgreSQL
//! writes them:
//!
//! ```text
//! 2026-11-28 01:02:03.456 UTC [7] LOG:  could not accept SSL connection: wrong version number
//! 2026-11-28 01:02:03.456 UTC [7] HINT:  This may indicate that the client does not support ...
//! ```
//!
//! `[%p]` is the connection's process id as the server reports it in BackendKeyData (pgssl
//! runs connections as tasks in one process, so this is a per-connection number, not an OS
//! pid); lines from the server itself carry the OS process id.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::wire::{ErrorFields, Severity};

/// One entry for the server log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// `LOG`, `FATAL`, `WARNING`...
    pub severity: Severity,
    /// The primary message.
    pub message: String,
    /// `DETAIL:` line.
    pub detail: Option<String>,
    /// `HINT:` line.
    pub hint: Option<String>,
    /// `CONTEXT:` line.
    pub context: Option<String>,
}

impl LogRecord {
    /// A `LOG` record (PostgreSQL's `LOG` and `COMMERROR` both print as `LOG`).
    pub fn log(message: impl Into<String>) -> Self {
        Self::new(Severity::Log, message)
    }

    /// A record of any severity.
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        Self {
            severity,
            message: message.into(),
            detail: None,
            hint: None,
            context: None,
        }
    }

    /// Adds a DETAIL line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a HINT line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a CONTEXT line.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The lines as PostgreSQL prints them after the prefix: `LOG:  message`, `DETAIL:  ...`.
    /// A field with several lines continues on tab-indented lines without the prefix, as
    /// PostgreSQL's `append_with_tabs` writes them.
    pub fn lines(&self) -> Vec<String> {
        let tabbed = |text: &str| text.replace('\n', "\n\t");
        let mut lines = vec![format!("{}:  {}", self.severity, tabbed(&self.message))];
        for (label, text) in [
            ("DETAIL", &self.detail),
            ("HINT", &self.hint),
            ("CONTEXT", &self.context),
        ] {
            if let Some(text) = text {
                lines.push(format!("{label}:  {}", tabbed(text)));
            }
        }
        lines
    }
}

impl From<&ErrorFields> for LogRecord {
    fn from(e: &ErrorFields) -> Self {
        Self {
            severity: e.severity().unwrap_or(Severity::Fatal),
            message: e.message().to_owned(),
            detail: e.detail().map(str::to_owned),
            hint: e.hint().map(str::to_owned),
            context: None,
        }
    }
}

/// Writes records to a sink (standard error by default), one `write` per record so lines from
/// concurrent connections never interleave.
pub struct Logger {
    sink: Mutex<Box<dyn Write + Send>>,
}

impl Logger {
    /// A logger writing to standard error.
    pub fn stderr() -> Self {
        Self::to_writer(Box::new(std::io::stderr()))
    }

    /// A logger writing to `sink`.
    pub fn to_writer(sink: Box<dyn Write + Send>) -> Self {
        Self {
            sink: Mutex::new(sink),
        }
    }

    /// Writes `record` attributed to process id `pid`.
    pub fn write(&self, pid: u32, record: &LogRecord) {
        let prefix = format!("{} [{pid}] ", timestamp(SystemTime::now()));
        let mut text = String::new();
        for line in record.lines() {
            text.push_str(&prefix);
            text.push_str(&line);
            text.push('\n');
        }
        // A poisoned lock only means another writer panicked mid-line; keep logging.
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // Nowhere to report a failing log sink; PostgreSQL likewise drops such lines.
        let _ = sink.write_all(text.as_bytes());
        let _ = sink.flush();
    }
}

/// `%m`: `YYYY-MM-DD HH:MM:SS.mmm UTC`.
fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn record_lines() {
        let r = LogRecord::log("could not accept SSL connection: unsupported protocol")
            .with_hint("This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.");
        assert_eq!(
            r.lines(),
            [
                "LOG:  could not accept SSL connection: unsupported protocol",
                "HINT:  This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3."
            ]
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000 UTC");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_833_723_456);
        assert_eq!(timestamp(t), "2026-11-28 02:42:03.456 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29 00:00:00.000 UTC");
    }
}
