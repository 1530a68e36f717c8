//! Reload on SIGHUP per profile: 15 and 18 re-read postgresql.conf and the SSL files (A8),
//! keep the old context when the new files fail (A12), and switch `ssl` for new connections
//! (A1); the seed profile reads the files only at start.

use pgssl_testkit::*;

const MODE_DETAIL: &str = "DETAIL:  File must have permissions u=rw (0600) or less if owned by the database user, or permissions u=rw,g=r (0640) or less if owned by root.";

fn install(data: &Data, id: &Identity, key_mode: u32) {
    data.write("server.crt", &id.cert_pem());
    data.write_mode("server.key", &id.key_pem(), key_mode);
}

fn files_are_reloaded_and_a_broken_key_keeps_the_old_context(profile: &str) {
    let data = Data::with(&Identity::self_signed("first-cert", ec_key()));
    data.conf(&format!("ssl = on\npgssl.profile = '{profile}'\n"));
    let server = Spawn::default().start(&data).running();
    assert_eq!(server.peer_cn(), "first-cert");

    install(
        &data,
        &Identity::self_signed("reloaded-cert", ec_key()),
        0o600,
    );
    let log = server.reload();
    assert_eq!(
        log,
        ["LOG:  received SIGHUP, reloading configuration files"]
    );
    assert_eq!(server.peer_cn(), "reloaded-cert");

    install(&data, &Identity::self_signed("third-cert", ec_key()), 0o644);
    let log = server.reload();
    assert_eq!(
        log,
        [
            "LOG:  received SIGHUP, reloading configuration files",
            "LOG:  private key file \"server.key\" has group or world access",
            MODE_DETAIL,
            "LOG:  SSL configuration was not reloaded",
        ]
    );
    assert_eq!(server.peer_cn(), "reloaded-cert");

    data.chmod("server.key", 0o600);
    server.reload();
    assert_eq!(server.peer_cn(), "third-cert");
}

#[test]
fn pg15_reload_swaps_files_and_keeps_old_context_on_failure() {
    files_are_reloaded_and_a_broken_key_keeps_the_old_context("15");
}

#[test]
fn pg18_reload_swaps_files_and_keeps_old_context_on_failure() {
    files_are_reloaded_and_a_broken_key_keeps_the_old_context("18");
}

#[test]
fn ssl_switches_for_new_connections_and_a_failed_load_keeps_n() {
    let data = Data::new();
    data.conf("ssl = on\npgssl.profile = '15'\n");
    let server = Spawn::default().start(&data).running();
    assert_eq!(server.ssl_request().1, b'S');

    data.conf("ssl = off\npgssl.profile = '15'\n");
    let log = server.reload();
    assert!(
        log.contains(&"LOG:  parameter \"ssl\" changed to \"off\"".to_owned()),
        "{log:#?}"
    );
    assert_eq!(server.ssl_request().1, b'N');

    // On again, but the key is missing: the context is not loaded, so still 'N'.
    let key = std::fs::read(data.file("server.key")).unwrap();
    std::fs::remove_file(data.file("server.key")).unwrap();
    data.conf("ssl = on\npgssl.profile = '15'\n");
    let log = server.reload();
    assert!(
        log.ends_with(&[
            "LOG:  could not access private key file \"server.key\": No such file or directory"
                .to_owned(),
            "LOG:  SSL configuration was not reloaded".to_owned(),
        ]),
        "{log:#?}"
    );
    assert_eq!(server.ssl_request().1, b'N');

    data.write_mode("server.key", &key, 0o600);
    server.reload();
    assert_eq!(server.ssl_request().1, b'S');
}

#[test]
fn seed_profile_reads_the_files_only_at_start() {
    let data = Data::with(&Identity::self_signed("first-cert", ec_key()));
    data.conf("ssl = on\n");
    let server = Spawn::default().start(&data).running();
    assert_eq!(server.peer_cn(), "first-cert");
    install(&data, &Identity::self_signed("new-cert", ec_key()), 0o600);
    data.write("root.crt", &Identity::ca("New CA").cert_pem());
    data.conf("ssl = off\n");
    let log = server.reload();
    assert!(
        log.contains(
            &"LOG:  parameter \"ssl\" cannot be changed without restarting the server".to_owned()
        ),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("LOG:  SSL files are read only at server start")),
        "{log:#?}"
    );
    assert_eq!(server.peer_cn(), "first-cert");
    let out = s_client(server.port, &[]);
    assert!(out.contains("No client certificate CA names sent"), "{out}");
}

#[test]
fn config_errors_on_reload_change_nothing() {
    let data = Data::new();
    data.conf("ssl = on\npgssl.profile = '18'\nlog_connections = off\n");
    let server = Spawn::default().start(&data).running();
    data.conf("ssl = on\npgssl.profile = '18'\nlog_connections = on\nbogus = 1\n");
    let conf = data.file("postgresql.conf");
    let log = server.reload();
    assert_eq!(
        log[1..],
        [
            format!(
                "LOG:  unrecognized configuration parameter \"bogus\" in file \"{}\" line 4",
                conf.display()
            ),
            format!(
                "LOG:  configuration file \"{}\" contains errors; no changes were applied",
                conf.display()
            ),
        ]
    );
    data.conf("ssl = on\npgssl.profile = '18'\nlog_connections = on\nmax_connections = 5\n");
    let log = server.reload();
    assert!(
        log.contains(&"LOG:  parameter \"log_connections\" changed to \"on\"".to_owned()),
        "{log:#?}"
    );
    assert!(
        log.contains(
            &"LOG:  parameter \"max_connections\" cannot be changed without restarting the server"
                .to_owned()
        ),
        "{log:#?}"
    );
    assert!(
        log.last()
            .unwrap()
            .ends_with("contains errors; unaffected changes were applied"),
        "{log:#?}"
    );
}
