//! The server's log: one `LEVEL:  message` line per record on standard error (`LOG`,
//! `FATAL`), written in one call so records from connections never interleave.

use std::io::Write;

/// Writes one record.
pub fn line(level: &str, message: &str) {
    let record = format!("{level}:  {message}\n");
    // A closed stderr leaves nothing to report the failure to.
    let _ = std::io::stderr().lock().write_all(record.as_bytes());
}
