//! The one declared table of normalizations: what the harness changes in a trace before it is
//! recorded, snapshotted and compared between targets. Everything else in a trace is what was
//! observed, byte for byte; an expectation's wildcard (`*`) decides whether a line matches,
//! never what is recorded.
//!
//! | what | lines | becomes | why |
//! |---|---|---|---|
//! | `server_version`'s build suffix after the version number | `< ParameterStatus server_version=…` | `15.18 <build>` | each build appends its own (`15.18 (Debian 15.18-0+deb12u1)`, none for the npm builds, `15.18 (pgssl)`); the number is kept |
//! | the client's port | `log…: LOG:  connection received: host=… port=N` | `port=<port>` | a new ephemeral port every connection |
//! | OpenSSL's reason text after the last `: ` of the messages in [`LIBRARY_TAILS`] | `start:`, `<` and `log…:` lines | `: <openssl>` | worded differently by OpenSSL 1.1.1, 3.0 and 3.6 for the same failure |
//! | the port and host in psql's error | `< psql failed: …` | `PORT`, `HOST` | [`psql_message`]: only the psql step knows them |
//!
//! Data directories are `DATADIR` in log and start lines (the targets replace their own
//! path), and process ids never reach a trace (log lines are recorded without their
//! `%m [%p] ` prefix, BackendKeyData as its key's length).

/// Messages whose tail after the last `": "` is OpenSSL's reason text, which differs between
/// the TLS libraries the targets link for the same failure. Only these are normalized: any
/// other difference between two servers stays visible.
pub const LIBRARY_TAILS: &[&str] = &[
    // The key file's PEM decoding error: "unsupported" / "bad decrypt" / "no start line"
    // depending on the OpenSSL release and its decoders.
    "FATAL:  could not load private key file ",
];

/// The text a normalized library tail is replaced by.
pub const LIBRARY_TAIL: &str = "<openssl>";

/// The text `server_version`'s build suffix is replaced by.
pub const BUILD: &str = "<build>";

/// The text a client port in a log line is replaced by.
pub const PORT: &str = "<port>";

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
        "error: ",
    ] {
        if let Some(rest) = line.strip_prefix(marker) {
            return (&line[..marker.len()], rest);
        }
    }
    ("", line)
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

/// A message of [`LIBRARY_TAILS`] with its tail after the last `": "` replaced.
fn library_tail(body: &str) -> Option<String> {
    LIBRARY_TAILS.iter().find(|p| body.starts_with(*p))?;
    let (head, _) = body.rsplit_once(": ")?;
    Some(format!("{head}: {LIBRARY_TAIL}"))
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
        assert_eq!(
            line(
                "start: refused: FATAL:  could not load private key file \"server.key\": unsupported"
            ),
            "start: refused: FATAL:  could not load private key file \"server.key\": <openssl>"
        );
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
