//! A4: the private-key permission rule, as root and (for the ownership cases) as the Debian
//! `postgres` user, with PostgreSQL's messages.

use pgssl_testkit::*;

const MODE_FATAL: &str = "FATAL:  private key file \"server.key\" has group or world access";
const MODE_DETAIL: &str = "DETAIL:  File must have permissions u=rw (0600) or less if owned by the database user, or permissions u=rw,g=r (0640) or less if owned by root.";

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The `postgres` user and `nobody`, when the tests run as root; otherwise the test fails
/// with the install hint (`None`, a skip, with `PGSSL_ALLOW_MISSING=1`).
fn users() -> Option<((u32, u32), (u32, u32))> {
    let found = match (is_root(), user("postgres"), user("nobody")) {
        (true, Some(pg), Some(nobody)) => Some((pg, nobody)),
        _ => None,
    };
    if found.is_none() {
        missing("needs root and the postgres user");
    }
    found
}

fn outcome(data: &Data, spawn: Spawn) -> Result<(), Vec<String>> {
    match spawn.start(data) {
        Started::Running(_) => Ok(()),
        Started::Exited { log, .. } => Err(log),
    }
}

const SEED_DETAIL: &str = "DETAIL:  Permissions should be u=rw (0600) or less.";

#[test]
fn owner_modes_as_the_server_user() {
    for profile in ["15", "18"] {
        let data = Data::new();
        let profile = format!("pgssl.profile={profile}");
        let ssl = || Spawn::with(&["ssl=on", &profile]);
        for mode in [0o600, 0o400] {
            data.chmod("server.key", mode);
            assert_eq!(outcome(&data, ssl()), Ok(()), "mode {mode:o}");
        }
        for mode in [0o640, 0o644, 0o604, 0o610] {
            data.chmod("server.key", mode);
            let log = outcome(&data, ssl()).expect_err("refused");
            assert_log_ends_with(&log, &[MODE_FATAL, MODE_DETAIL]);
        }
    }
}

/// The seed document's rule: no group or world permission, whoever owns the key.
#[test]
fn seed_profile_refuses_any_group_or_world_permission() {
    let data = Data::new();
    let ssl = || Spawn::with(&["ssl=on", "pgssl.profile=seed"]);
    data.chmod("server.key", 0o600);
    assert_eq!(outcome(&data, ssl()), Ok(()));
    for mode in [0o640, 0o604, 0o610] {
        data.chmod("server.key", mode);
        let log = outcome(&data, ssl()).expect_err("refused");
        assert_log_ends_with(&log, &[MODE_FATAL, SEED_DETAIL]);
    }
    let Some((pg, _)) = users() else { return };
    data.chown("server.crt", pg.0, pg.1);
    // Owned by root with the server user's group: 0640 is refused too.
    data.chown("server.key", 0, pg.1);
    data.chmod("server.key", 0o640);
    let log = outcome(
        &data,
        Spawn::with(&["ssl=on", "pgssl.profile=seed"]).run_as(pg),
    )
    .expect_err("refused");
    assert_log_ends_with(&log, &[MODE_FATAL, SEED_DETAIL]);
}

#[test]
fn not_a_regular_file_and_missing() {
    let data = Data::new();
    std::fs::remove_file(data.file("server.key")).unwrap();
    std::fs::create_dir(data.file("server.key")).unwrap();
    let log = outcome(&data, Spawn::with(&["ssl=on"])).expect_err("refused");
    assert_log_ends_with(
        &log,
        &["FATAL:  private key file \"server.key\" is not a regular file"],
    );
}

#[test]
fn root_owned_keys_and_foreign_owners_as_postgres() {
    let Some((pg, nobody)) = users() else { return };
    let data = Data::new();
    data.chown("server.crt", pg.0, pg.1);
    let as_pg = || Spawn::with(&["ssl=on", "pgssl.profile=15"]).run_as(pg);
    let case = |owner: (u32, u32), mode: u32| {
        data.chown("server.key", owner.0, owner.1);
        data.chmod("server.key", mode);
        outcome(&data, as_pg())
    };
    // Owned by the server user.
    assert_eq!(case(pg, 0o600), Ok(()));
    assert_eq!(case(pg, 0o400), Ok(()));
    assert_log_ends_with(&case(pg, 0o640).unwrap_err(), &[MODE_FATAL, MODE_DETAIL]);
    // Owned by root, group the server user's: 0640 is allowed.
    let root_pg = (0, pg.1);
    assert_eq!(case(root_pg, 0o640), Ok(()));
    assert_eq!(case(root_pg, 0o600 | 0o040), Ok(()));
    for mode in [0o644, 0o660, 0o650] {
        assert_log_ends_with(
            &case(root_pg, mode).unwrap_err(),
            &[MODE_FATAL, MODE_DETAIL],
        );
    }
    // root:root 0600 passes the rule but cannot be read.
    assert_log_ends_with(
        &case((0, 0), 0o600).unwrap_err(),
        &["FATAL:  could not load private key file \"server.key\": Permission denied"],
    );
    // Anyone else.
    assert_log_ends_with(
        &case(nobody, 0o600).unwrap_err(),
        &["FATAL:  private key file \"server.key\" must be owned by the database user or root"],
    );
}
