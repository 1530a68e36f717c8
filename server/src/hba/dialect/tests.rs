//! Tests of the per-profile load and reload messages.

use crate::hba::*;
use crate::profile::Profile;

#[test]
fn load_and_reload_messages() {
    let path = "/var/lib/pgsql/data/pg_hba.conf";
    assert_eq!(
        hba_load_failed_message(Profile::Pg15, path),
        "could not load pg_hba.conf"
    );
    assert_eq!(
        hba_load_failed_message(Profile::Pg18, path),
        "could not load /var/lib/pgsql/data/pg_hba.conf"
    );
    assert_eq!(
        hba_load_failed_message(Profile::Seed, path),
        "could not load pg_hba.conf"
    );
    assert_eq!(
        hba_not_reloaded_message(Profile::Pg15, path),
        (LogLevel::Log, "pg_hba.conf was not reloaded".into())
    );
    assert_eq!(
        hba_not_reloaded_message(Profile::Pg18, path),
        (
            LogLevel::Log,
            "/var/lib/pgsql/data/pg_hba.conf was not reloaded".into()
        )
    );
    assert_eq!(
        hba_not_reloaded_message(Profile::Seed, path),
        (LogLevel::Warning, "pg_hba.conf not reloaded".into())
    );
    let ipath = "/d/pg_ident.conf";
    assert_eq!(
        ident_not_reloaded_message(Profile::Pg15, ipath),
        Some((LogLevel::Log, "pg_ident.conf was not reloaded".into()))
    );
    assert_eq!(
        ident_not_reloaded_message(Profile::Pg18, ipath),
        Some((LogLevel::Log, "/d/pg_ident.conf was not reloaded".into()))
    );
    assert_eq!(ident_not_reloaded_message(Profile::Seed, ipath), None);
}
