//! The simple-query responder: the handful of queries clients use to inspect a connection,
//! recognised by their normalised text. There is no SQL engine behind it; anything else is
//! answered with an error that says so, and the session goes on.

mod select;

use crate::config::Settings;
use crate::tls::TlsFacts;
use crate::wire::backend::FieldDescription;
use crate::wire::{BackendMessage, ErrorFields, Severity};

/// What a query can see of its session.
#[derive(Clone, Debug)]
pub struct SessionView<'a> {
    /// The backend's process id.
    pub pid: u32,
    /// The settings in force.
    pub settings: &'a Settings,
    /// TLS facts, when TLS is in use.
    pub tls: Option<&'a TlsFacts>,
    /// The session user.
    pub user: &'a str,
    /// The client certificate, when one was presented and verified.
    pub cert: Option<&'a openssl::x509::X509>,
}

/// Lower-cases outside quotes, collapses white space and drops trailing semicolons.
pub fn normalize(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in query.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => pending_space = true,
            None => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c.to_ascii_lowercase());
            }
        }
    }
    while out.ends_with(';') || out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Answers one simple query: the messages to send before ReadyForQuery.
pub fn respond(query: &str, view: &SessionView<'_>) -> Vec<BackendMessage> {
    let q = normalize(query);
    if q.is_empty() {
        return vec![BackendMessage::EmptyQueryResponse];
    }
    if q == "select 1" {
        return rows(
            &[("?column?", FieldDescription::INT4_OID)],
            vec![vec![Some("1".into())]],
        );
    }
    if let Some(name) = q.strip_prefix("show ") {
        return show(name.trim_matches('"'), view);
    }
    if let Some(out) = select::respond(&q, view) {
        return out;
    }
    unsupported(query)
}

/// `version()`'s text.
fn version_string(view: &SessionView<'_>) -> String {
    format!(
        "PostgreSQL {} on {}-linux, compiled by rustc, 64-bit",
        view.settings.profile.behaviour().server_version,
        std::env::consts::ARCH
    )
}

fn unsupported(query: &str) -> Vec<BackendMessage> {
    vec![BackendMessage::ErrorResponse(
        ErrorFields::new(Severity::Error, "0A000", "pgssl does not support this query")
            .with_detail(format!("Query: {query}"))
            .with_hint("pgssl answers only the queries that inspect a connection: SELECT 1, SELECT version(), SHOW, pg_stat_ssl, and the sslinfo functions."),
    )]
}

fn rows(columns: &[(&str, u32)], data: Vec<Vec<Option<String>>>) -> Vec<BackendMessage> {
    let count = data.len();
    let mut out = vec![BackendMessage::RowDescription(
        columns
            .iter()
            .map(|(name, oid)| FieldDescription::computed(*name, *oid))
            .collect(),
    )];
    out.extend(data.into_iter().map(|row| {
        BackendMessage::DataRow(row.into_iter().map(|v| v.map(String::into_bytes)).collect())
    }));
    out.push(BackendMessage::CommandComplete(format!("SELECT {count}")));
    out
}

fn show(name: &str, view: &SessionView<'_>) -> Vec<BackendMessage> {
    let value = match name {
        "ssl_library" => Some("OpenSSL".to_owned()),
        "server_version" => Some(view.settings.profile.behaviour().server_version.to_owned()),
        "server_version_num" => Some(
            view.settings
                .profile
                .behaviour()
                .server_version_num
                .to_owned(),
        ),
        "session_authorization" => Some(view.user.to_owned()),
        _ => view.settings.show(name),
    };
    match value {
        Some(v) => {
            let mut out = rows(&[(name, FieldDescription::TEXT_OID)], vec![vec![Some(v)]]);
            if let Some(BackendMessage::CommandComplete(tag)) = out.last_mut() {
                *tag = "SHOW".into();
            }
            out
        }
        None => vec![BackendMessage::ErrorResponse(ErrorFields::new(
            Severity::Error,
            "42704",
            format!("unrecognized configuration parameter \"{name}\""),
        ))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn view(settings: &Settings, tls: Option<&TlsFacts>) -> Vec<BackendMessage> {
        let v = SessionView {
            pid: 7,
            settings,
            tls,
            user: "alice",
            cert: None,
        };
        respond(
            "  SELECT ssl, version,cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid() ;",
            &v,
        )
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize("  SELECT\n 1 ;;"), "select 1");
        assert_eq!(normalize("SHOW \"SSL\""), "show \"SSL\"");
    }

    #[test]
    fn pg_stat_ssl_rows() {
        let settings = Settings::defaults("/d", Profile::Pg15);
        let facts = TlsFacts {
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            bits: 256,
            alpn: None,
        };
        let out = view(&settings, Some(&facts));
        assert_eq!(
            out[1],
            BackendMessage::DataRow(vec![
                Some(b"t".to_vec()),
                Some(b"TLSv1.3".to_vec()),
                Some(b"TLS_AES_256_GCM_SHA384".to_vec())
            ])
        );
        let out = view(&settings, None);
        assert_eq!(
            out[1],
            BackendMessage::DataRow(vec![Some(b"f".to_vec()), None, None])
        );
    }

    #[test]
    fn unsupported_queries_are_errors() {
        let settings = Settings::defaults("/d", Profile::Pg15);
        let v = SessionView {
            pid: 7,
            settings: &settings,
            tls: None,
            user: "alice",
            cert: None,
        };
        let out = respond("drop table x", &v);
        assert!(matches!(&out[0], BackendMessage::ErrorResponse(e) if e.code() == "0A000"));
        let out = respond("show no_such_thing", &v);
        assert!(matches!(&out[0], BackendMessage::ErrorResponse(e) if e.code() == "42704"));
        let out = respond("show ssl", &v);
        assert_eq!(out[1], BackendMessage::DataRow(vec![Some(b"off".to_vec())]));
    }
}
