//! The one declared table of normalizations: what the harness changes in a trace before it is
//! recorded, snapshotted and compared between targets. Everything else in a trace is what was
//! observed, byte for byte; an expectation's wildcard (`*`) decides whether a line matches,
//! never what is recorded.
//!
//! | what | lines | becomes | why |
//! |---|---|---|---|
//! | `server_version`'s build suffix after the version number | `< ParameterStatus server_version=…` | `15.18 <build>` | each build appends its own (`15.18 (Debian 15.18-0+deb12u1)`, none for the npm builds, `15.18 (pgssl)`); the number is kept |
//! | the client's port | `log…: LOG:  connection received: host=… port=N` | `port=<port>` | a new ephemeral port every connection |
//! | OpenSSL's reason text after the last `: ` of the messages in [`LIBRARY_TAILS`], when it is one of the wordings listed there | `start:`, `<` and `log…:` lines | the entry's `recorded_as` | OpenSSL 1.1.1 and 3 word the same failure differently |
//! | the order of a run of ParameterStatus reports | consecutive `< ParameterStatus` lines | sorted by name, ignoring case | the server's GUC table order: a sorted array up to 15, a hash table from 16 (18 sends them in hash order); the protocol gives them no order |
//! | the line number in a setting error naming `postgresql.conf` | `start:` and `log…:` lines ending `postgresql.conf" line N` | `line <n>` | the harness appends a case's settings to the data directory's own file: initdb's sample is some 800 lines, pgssl's a few |
//! | the port and host in psql's error | `< psql failed: …` | `PORT`, `HOST` | [`psql_message`]: only the psql step knows them |
//!
//! Data directories are `DATADIR` in log and start lines (the targets replace their own
//! path), and process ids never reach a trace (log lines are recorded without their
//! `%m [%p] ` prefix, BackendKeyData as its key's length).

/// Messages whose tail after the last `": "` is OpenSSL's reason text, with the wordings
/// different OpenSSL releases give the same failure, and what they are all recorded as. Only
/// these tails are normalized, and only from one of these wordings: any other reason (another
/// failure) stays as observed, so two servers failing for different reasons never look alike.
pub const LIBRARY_TAILS: &[LibraryTail] = &[LibraryTail {
    message: "FATAL:  could not load private key file ",
    // A file with no key in it: OpenSSL 3's decoders say "unsupported", 1.1.1's PEM reader
    // (the npm PostgreSQL 18) "no start line". "key values mismatch" and the rest stay.
    wordings: &["unsupported", "no start line"],
    recorded_as: "<openssl: no key in the file>",
}];

/// One entry of [`LIBRARY_TAILS`].
#[derive(Clone, Copy, Debug)]
pub struct LibraryTail {
    /// The message's start (after the trace line's marker).
    pub message: &'static str,
    /// The libraries' reason texts for the same failure.
    pub wordings: &'static [&'static str],
    /// What any of them is recorded as.
    pub recorded_as: &'static str,
}

/// The text `server_version`'s build suffix is replaced by.
pub const BUILD: &str = "<build>";

/// The text a client port in a log line is replaced by.
pub const PORT: &str = "<port>";

/// The text a postgresql.conf line number is replaced by.
pub const CONF_LINE: &str = "<n>";

/// Sorts each run of consecutive ParameterStatus observations by name (ignoring case), the
/// only normalization applied before matching: it changes no line, only their order.
pub fn parameter_status_order(lines: &mut [String]) {
    let is_report = |l: &String| l.starts_with("< ParameterStatus ");
    let mut i = 0;
    while i < lines.len() {
        if !is_report(&lines[i]) {
            i += 1;
            continue;
        }
        let run = lines[i..].iter().take_while(|l| is_report(l)).count();
        lines[i..i + run].sort_by_key(|l| {
            let name = l.split_once('=').map_or(l.as_str(), |(n, _)| n);
            name.to_ascii_lowercase()
        });
        i += run;
    }
}

/// A recorded trace line with the table's normalizations applied.
pub fn line(recorded: &str) -> String {
    let (marker, body) = split_marker(recorded);
    let mut body = body.to_owned();
    if marker == "< " {
        body = server_version(&body).unwrap_or(body);
    }
    if marker.starts_with("log") {
        body = client_port(&body).unwrap_or(body);
    }
    if marker.starts_with("log") || marker.starts_with("start") {
        body = conf_line(&body).unwrap_or(body);
    }
    if marker != "> " {
        body = library_tail(&body).unwrap_or(body);
    }
    format!("{marker}{body}")
}

/// The line's marker (`< `, `> `, `start: `, `log: `, `log unexpected: `...) and the rest.
fn split_marker(line: &str) -> (&str, &str) {
    for marker in [
        "< ",
        "> ",
        "start: refused: ",
        "start: ",
        "log: ",
        "log missing: ",
        "log unexpected: ",
        "log forbidden: ",
        "error: ",
    ] {
        if let Some(rest) = line.strip_prefix(marker) {
            return (&line[..marker.len()], rest);
        }
    }
    ("", line)
}

/// `… in file "DATADIR/postgresql.conf" line 803` → `… line <n>`.
fn conf_line(body: &str) -> Option<String> {
    let head = body.trim_end_matches(|c: char| c.is_ascii_digit());
    if head.len() == body.len() || !head.ends_with("postgresql.conf\" line ") {
        return None;
    }
    Some(format!("{head}{CONF_LINE}"))
}

/// `ParameterStatus server_version=15.18 (Debian …)` → `… server_version=15.18 <build>`.
fn server_version(body: &str) -> Option<String> {
    let value = body.strip_prefix("ParameterStatus server_version=")?;
    let number: String = value
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    Some(format!("ParameterStatus server_version={number} {BUILD}"))
}

/// `connection received: host=… port=54321` → `port=<port>`.
fn client_port(body: &str) -> Option<String> {
    let message = body.strip_prefix("LOG:  connection received: ")?;
    let at = message.find(" port=")? + " port=".len();
    let digits = message[at..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    Some(format!(
        "LOG:  connection received: {}{PORT}{}",
        &message[..at],
        &message[at + digits..]
    ))
}

/// A message of [`LIBRARY_TAILS`] whose tail after the last `": "` is one of its wordings,
/// with that tail replaced.
fn library_tail(body: &str) -> Option<String> {
    let (head, tail) = body.rsplit_once(": ")?;
    let entry = LIBRARY_TAILS
        .iter()
        .find(|t| body.starts_with(t.message) && t.wordings.contains(&tail))?;
    Some(format!("{head}: {}", entry.recorded_as))
}

/// psql's error line with the server's port and host (known only to the psql step)
/// replaced.
pub fn psql_message(text: &str, port: u16, host: &str) -> String {
    let text = text.replace(&port.to_string(), "PORT");
    if host.is_empty() {
        text
    } else {
        text.replace(host, "HOST")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_line_numbers_only_in_postgresql_conf_errors() {
        assert_eq!(
            line(
                "log: LOG:  unrecognized configuration parameter \"x\" in file \"DATADIR/postgresql.conf\" line 803"
            ),
            "log: LOG:  unrecognized configuration parameter \"x\" in file \"DATADIR/postgresql.conf\" line <n>"
        );
        // pg_hba.conf line numbers are the case's own rows: kept.
        let hba = "log: DETAIL:  Connection matched file \"DATADIR/pg_hba.conf\" line 1";
        assert_eq!(line(hba), hba);
        let wire = "< E FATAL 0A000 postgresql.conf\" line 3";
        assert_eq!(line(wire), wire);
    }

    #[test]
    fn server_version_keeps_its_number() {
        for value in ["15.18 (Debian 15.18-0+deb12u1)", "15.18", "15.18 (pgssl)"] {
            assert_eq!(
                line(&format!("< ParameterStatus server_version={value}")),
                "< ParameterStatus server_version=15.18 <build>"
            );
        }
        assert_eq!(
            line("< ParameterStatus server_version=18beta1 (x)"),
            "< ParameterStatus server_version=18beta1 <build>"
        );
        // Other reports, and the client's own lines, are as observed.
        for l in [
            "< ParameterStatus server_version_num=150018",
            "< ParameterStatus TimeZone=Etc/UTC",
            "> write ParameterStatus server_version=1 (x)",
        ] {
            assert_eq!(line(l), l);
        }
    }

    #[test]
    fn parameter_status_runs_are_sorted_by_name() {
        let mut lines: Vec<String> = [
            "< AuthenticationOk",
            "< ParameterStatus TimeZone=Etc/UTC",
            "< ParameterStatus application_name=",
            "< ParameterStatus DateStyle=ISO, MDY",
            "< BackendKeyData key=4 bytes",
            "< ParameterStatus b=1",
            "< ParameterStatus a=2",
        ]
        .map(String::from)
        .to_vec();
        parameter_status_order(&mut lines);
        assert_eq!(
            lines,
            [
                "< AuthenticationOk",
                "< ParameterStatus application_name=",
                "< ParameterStatus DateStyle=ISO, MDY",
                "< ParameterStatus TimeZone=Etc/UTC",
                "< BackendKeyData key=4 bytes",
                "< ParameterStatus a=2",
                "< ParameterStatus b=1",
            ]
        );
    }

    #[test]
    fn client_ports_in_log_lines() {
        assert_eq!(
            line("log: LOG:  connection received: host=127.0.0.1 port=54321"),
            "log: LOG:  connection received: host=127.0.0.1 port=<port>"
        );
        assert_eq!(
            line("log unexpected: LOG:  connection received: host=[local] port=1 x"),
            "log unexpected: LOG:  connection received: host=[local] port=<port> x"
        );
        let other = "log: LOG:  connection received: host=[local]";
        assert_eq!(line(other), other);
        let observed = "< E FATAL 08P01 port=5432";
        assert_eq!(line(observed), observed);
    }

    #[test]
    fn only_declared_library_tails_are_normalized() {
        for wording in ["unsupported", "no start line"] {
            assert_eq!(
                line(&format!(
                    "start: refused: FATAL:  could not load private key file \"server.key\": {wording}"
                )),
                "start: refused: FATAL:  could not load private key file \"server.key\": <openssl: no key in the file>"
            );
        }
        let mismatch = "start: refused: FATAL:  could not load private key file \"server.key\": key values mismatch";
        assert_eq!(line(mismatch), mismatch);
        // Undeclared messages keep their reasons: different failures stay different.
        for l in [
            "start: refused: FATAL:  could not load server certificate file \"server.crt\": no start line",
            "log: LOG:  could not accept SSL connection: wrong version number",
            "< tls failed: alert handshake_failure",
        ] {
            assert_eq!(line(l), l);
        }
    }

    #[test]
    fn psql_messages_lose_port_and_host() {
        assert_eq!(
            psql_message(
                "psql: error: connection to server at \"127.0.0.1\", port 5433 failed",
                5433,
                "127.0.0.1"
            ),
            "psql: error: connection to server at \"HOST\", port PORT failed"
        );
    }
}
