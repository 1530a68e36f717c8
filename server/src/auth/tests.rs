//! Unit tests of the connection-time checks.

use super::*;

fn rules(profile: Profile, hba: &str, ident: &str) -> AuthRules {
    let opts = ParseOptions::new(profile);
    let hba = hba::parse_hba_str(hba, "/d/pg_hba.conf", &opts)
        .into_result()
        .expect("hba");
    let ident = hba::parse_ident_str(ident, "/d/pg_ident.conf", &opts)
        .into_result()
        .expect("ident");
    AuthRules { hba, ident }
}

fn client<'a>(profile: Profile, user: &'a str, ssl: bool) -> Client<'a> {
    Client {
        profile,
        addr: Some(IpAddr::from([127, 0, 0, 1])),
        ssl,
        physical_replication: false,
        user,
        database: "postgres",
        cert: None,
        ca_store: true,
        log_connections: true,
    }
}

fn fatal(step: AuthStep) -> (String, String, Option<String>) {
    let AuthStep::Done(Verdict {
        log,
        result: Err(e),
    }) = step
    else {
        panic!("expected a failure: {step:?}");
    };
    let last = log.last().expect("logged");
    (
        e.code().to_owned(),
        e.message().to_owned(),
        last.detail.clone(),
    )
}

#[test]
fn no_entry_and_reject_name_the_encryption() {
    let r = rules(
        Profile::Pg15,
        "hostssl all all all trust\nhost all bob all reject\n",
        "",
    );
    let (code, msg, _) = fatal(check(&r, &client(Profile::Pg15, "alice", false)));
    assert_eq!(code, "28000");
    assert_eq!(
        msg,
        "no pg_hba.conf entry for host \"127.0.0.1\", user \"alice\", database \"postgres\", no encryption"
    );
    let (_, msg, _) = fatal(check(&r, &client(Profile::Pg15, "bob", false)));
    assert_eq!(
        msg,
        "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"bob\", database \"postgres\", no encryption"
    );
    assert!(matches!(
        check(&r, &client(Profile::Pg15, "bob", true)),
        AuthStep::Done(Verdict { result: Ok(()), .. })
    ));
}

#[test]
fn client_certificate_checks_come_first() {
    let r = rules(Profile::Pg15, "hostssl all all all cert\n", "");
    let mut c = client(Profile::Pg15, "alice", true);
    c.ca_store = false;
    let (code, msg, _) = fatal(check(&r, &c));
    assert_eq!(code, "F0000");
    assert_eq!(
        msg,
        "client certificates can only be checked if a root certificate store is available"
    );
    c.ca_store = true;
    let (code, msg, _) = fatal(check(&r, &c));
    assert_eq!(code, "28000");
    assert_eq!(msg, "connection requires a valid client certificate");
}

#[test]
fn password_fails_without_stored_passwords_with_the_row_in_the_detail() {
    let r = rules(Profile::Pg15, "host all all all password\n", "");
    let c = client(Profile::Pg15, "alice", false);
    assert_eq!(check(&r, &c), AuthStep::AskPassword);
    assert_eq!(check_password(&r, &c, None), None);
    let v = check_password(&r, &c, Some(b"secret")).expect("verdict");
    let Err(e) = v.result else { panic!() };
    assert_eq!(e.code(), "28P01");
    assert_eq!(
        e.message(),
        "password authentication failed for user \"alice\""
    );
    assert_eq!(
        v.log.last().and_then(|r| r.detail.clone()).as_deref(),
        Some(
            "User \"alice\" has no password assigned.\nConnection matched pg_hba.conf line 1: \"host all all all password\""
        )
    );
    let r18 = rules(Profile::Pg18, "host all all all password\n", "");
    let c18 = client(Profile::Pg18, "alice", false);
    let v = check_password(&r18, &c18, Some(b"x")).expect("verdict");
    assert!(
        v.log
            .last()
            .and_then(|r| r.detail.clone())
            .is_some_and(|d| d.ends_with(
                "Connection matched file \"/d/pg_hba.conf\" line 1: \"host all all all password\""
            ))
    );
}

#[test]
fn trust_is_logged_without_identity_from_18_on() {
    for (profile, expected) in [(Profile::Pg15, 0), (Profile::Pg18, 1)] {
        let r = rules(profile, "host all all all trust\n", "");
        let AuthStep::Done(v) = check(&r, &client(profile, "alice", false)) else {
            panic!()
        };
        assert_eq!(v.result, Ok(()));
        assert_eq!(v.log.len(), expected);
        if expected == 1 {
            assert_eq!(
                v.log[0].message,
                "connection authenticated: user=\"alice\" method=trust (/d/pg_hba.conf:1)"
            );
        }
    }
}

#[test]
fn samehost_matches_loopback_and_samenet_its_network() {
    let r = rules(
        Profile::Pg15,
        "host samehostdb all samehost trust\nhost samenetdb all samenet trust\n",
        "",
    );
    for db in ["samehostdb", "samenetdb"] {
        let mut c = client(Profile::Pg15, "alice", false);
        c.database = db;
        assert!(matching_row(&r, &c).is_some(), "{db}");
        c.addr = Some(IpAddr::from([198, 51, 100, 77]));
        assert!(matching_row(&r, &c).is_none(), "{db} from TEST-NET-2");
    }
}
