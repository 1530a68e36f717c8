//! Queries a client controls the size of, over real connections to the running binary:
//! parentheses nested 100,000 deep (which once overflowed a worker's stack and aborted the
//! whole server) and a 40,000-entry target list get PostgreSQL's errors, and the session,
//! a second concurrent session and new connections all go on being served.

use std::io::Read;
use std::net::TcpStream;

use pgssl_server::wire::FrontendMessage;
use pgssl_testkit::*;

/// A logged-in plain connection, at its first ReadyForQuery.
fn session(server: &Server) -> TcpStream {
    let mut s = server.connect();
    send(&mut s, &login());
    let msgs = read_messages(&mut s);
    assert!(
        matches!(msgs.last(), Some(BackendMessage::ReadyForQuery(_))),
        "{msgs:?}"
    );
    s
}

/// Sends one simple query and reads everything up to and including its ReadyForQuery
/// (`read_messages` stops at an ErrorResponse).
fn query(s: &mut TcpStream, text: &str) -> Vec<BackendMessage> {
    let mut bytes = Vec::new();
    FrontendMessage::Query(text.as_bytes().to_vec()).encode(&mut bytes);
    send(s, &bytes);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        while let Ok(Some((msg, used))) = BackendMessage::decode(&buf) {
            buf.drain(..used);
            let done = matches!(msg, BackendMessage::ReadyForQuery(_));
            out.push(msg);
            if done {
                return out;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("connection ended after {out:?}"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The query's one ErrorResponse, followed by ReadyForQuery (the session goes on).
fn error_then_ready(msgs: &[BackendMessage]) -> ErrorFields {
    match msgs {
        [
            BackendMessage::ErrorResponse(e),
            BackendMessage::ReadyForQuery(_),
        ] => e.clone(),
        other => panic!("expected ErrorResponse, ReadyForQuery; got {other:?}"),
    }
}

fn assert_select_1(s: &mut TcpStream) {
    let msgs = query(s, "SELECT 1");
    assert_eq!(
        msgs.get(1),
        Some(&BackendMessage::DataRow(vec![Some(b"1".to_vec())])),
        "{msgs:?}"
    );
}

#[test]
fn oversized_queries_get_postgresqls_errors_and_the_server_keeps_serving() {
    let server = Server::start(&["ssl=off"]);
    let mut attacker = session(&server);
    let mut bystander = session(&server);

    let deep = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = error_then_ready(&query(&mut attacker, &deep));
    assert_eq!(
        (e.code(), e.message(), e.get(b'P')),
        ("42601", "memory exhausted at or near \"(\"", Some("10004"))
    );

    let wide = format!("SELECT {}", vec!["1"; 40_000].join(","));
    let e = error_then_ready(&query(&mut attacker, &wide));
    assert_eq!(
        (e.code(), e.message()),
        ("54011", "target lists can have at most 1664 entries")
    );

    let chain = format!("SELECT {}", vec!["'a'"; 100_000].join("||"));
    let e = error_then_ready(&query(&mut attacker, &chain));
    assert_eq!(
        (e.code(), e.message(), e.hint()),
        (
            "54001",
            "stack depth limit exceeded",
            Some(
                "Increase the configuration parameter \"max_stack_depth\" (currently 2048kB), after ensuring the platform's stack depth limit is adequate."
            )
        )
    );

    // The same session, the one beside it, and a new one are all still served.
    assert_select_1(&mut attacker);
    assert_select_1(&mut bystander);
    assert_select_1(&mut session(&server));
}
