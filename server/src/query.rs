//! The simple-query responder: the handful of queries clients use to inspect a connection,
//! recognised by their normalised text. There is no SQL engine behind it; anything else is
//! answered with an error that says so, and the session goes on.

mod limits;
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
    // PostgreSQL's grammar refuses these before anything looks at what the query says.
    if let Some(e) = limits::parser_stack_overflow(query) {
        return vec![BackendMessage::ErrorResponse(e)];
    }
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

    /// Alice's session, pid 7, with no client certificate.
    fn alice<'a>(settings: &'a Settings, tls: Option<&'a TlsFacts>) -> SessionView<'a> {
        SessionView {
            pid: 7,
            settings,
            tls,
            user: "alice",
            cert: None,
        }
    }

    fn view(settings: &Settings, tls: Option<&TlsFacts>) -> Vec<BackendMessage> {
        let v = alice(settings, tls);
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
        let v = alice(&settings, None);
        let out = respond("drop table x", &v);
        assert!(matches!(&out[0], BackendMessage::ErrorResponse(e) if e.code() == "0A000"));
        let out = respond("show no_such_thing", &v);
        assert!(matches!(&out[0], BackendMessage::ErrorResponse(e) if e.code() == "42704"));
        let out = respond("show ssl", &v);
        assert_eq!(out[1], BackendMessage::DataRow(vec![Some(b"off".to_vec())]));
    }

    fn session() -> Settings {
        Settings::defaults("/d", Profile::Pg15)
    }

    /// `respond` on a thread with a `stack`-byte stack, as a Tokio worker (2 MiB) runs it.
    fn respond_on_stack(query: String, stack: usize) -> Vec<BackendMessage> {
        std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                let settings = session();
                let v = alice(&settings, None);
                respond(&query, &v)
            })
            .expect("thread")
            .join()
            .expect("no overflow")
    }

    /// The one ErrorResponse a query got: SQLSTATE, message, hint, position.
    fn only_error(out: &[BackendMessage]) -> (&str, &str, Option<&str>, Option<&str>) {
        match out {
            [BackendMessage::ErrorResponse(e)] => (e.code(), e.message(), e.hint(), e.get(b'P')),
            other => panic!("expected one ErrorResponse, got {other:?}"),
        }
    }

    fn nested(n: usize) -> String {
        format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n))
    }

    fn target_list(n: usize) -> String {
        format!("SELECT {}", vec!["1"; n].join(","))
    }

    const STACK_HINT: &str = "Increase the configuration parameter \"max_stack_depth\" (currently 2048kB), after ensuring the platform's stack depth limit is adequate.";

    #[test]
    fn deep_nesting_gets_postgresqls_parser_error() {
        let out = respond_on_stack(nested(100_000), 256 << 10);
        assert_eq!(
            only_error(&out),
            (
                "42601",
                "memory exhausted at or near \"(\"",
                None,
                Some("10004")
            )
        );
    }

    #[test]
    fn nesting_just_under_the_limit_evaluates() {
        // The parser keeps its open parentheses on the heap: 9,993 levels (the most
        // PostgreSQL takes) parse on a thread with an eighth of a worker's stack.
        let out = respond_on_stack(nested(9_993), 256 << 10);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[1], BackendMessage::DataRow(vec![Some(b"1".to_vec())]));
        assert_eq!(out[2], BackendMessage::CommandComplete("SELECT 1".into()));
    }

    #[test]
    fn deep_expressions_get_stack_depth_limit_exceeded() {
        let chain = |n: usize| format!("SELECT {}", vec!["'a'"; n].join("||"));
        // The deepest tree accepted evaluates well inside a worker's 2 MiB stack.
        let out = respond_on_stack(chain(limits::MAX_EXPR_DEPTH), 512 << 10);
        let want = "a".repeat(limits::MAX_EXPR_DEPTH).into_bytes();
        assert_eq!(out[1], BackendMessage::DataRow(vec![Some(want)]));
        let refused = (
            "54001",
            "stack depth limit exceeded",
            Some(STACK_HINT),
            None,
        );
        for query in [
            chain(limits::MAX_EXPR_DEPTH + 1),
            chain(100_000),
            // Right-nested, through parentheses.
            format!("SELECT {}'a'{}", "'a'||(".repeat(2_000), ")".repeat(2_000)),
            // Calls in calls.
            format!(
                "SELECT {}'cn'{}",
                "ssl_client_dn_field(".repeat(2_000),
                ")".repeat(2_000)
            ),
        ] {
            let out = respond_on_stack(query, 512 << 10);
            assert_eq!(only_error(&out), refused);
        }
    }

    #[test]
    fn target_lists_stop_at_1664_entries() {
        let settings = session();
        let v = alice(&settings, None);
        let out = respond(&target_list(1_664), &v);
        match &out[..] {
            [
                BackendMessage::RowDescription(fields),
                BackendMessage::DataRow(values),
                BackendMessage::CommandComplete(tag),
            ] => {
                assert_eq!((fields.len(), values.len()), (1_664, 1_664));
                assert_eq!(tag, "SELECT 1");
            }
            other => panic!("{other:?}"),
        }
        let refused = (
            "54011",
            "target lists can have at most 1664 entries",
            None,
            None,
        );
        for n in [1_665, 40_000] {
            assert_eq!(only_error(&respond(&target_list(n), &v)), refused);
        }
    }
}
