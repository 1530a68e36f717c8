//! Tests of loading the top-level file from disk.

use crate::hba::*;
use crate::profile::Profile;

#[test]
fn missing_top_level_file() {
    let opts = ParseOptions::new(Profile::Pg15);
    let load = load_hba_file("/nonexistent/dir/pg_hba.conf", &opts);
    assert_eq!(
        load.render_log(),
        "LOG:  could not open configuration file \"/nonexistent/dir/pg_hba.conf\": No such file or directory\n"
    );
    let opts = ParseOptions::new(Profile::Pg18);
    let load = load_ident_file("/nonexistent/dir/pg_ident.conf", &opts);
    assert_eq!(
        load.render_log(),
        "LOG:  could not open file \"/nonexistent/dir/pg_ident.conf\": No such file or directory\n"
    );
}

#[test]
fn real_files_with_fs_resolver() {
    let dir = std::env::temp_dir().join(format!("pgssl-hba-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users"), "alice bob\n").unwrap();
    std::fs::write(
        dir.join("pg_hba.conf"),
        "host all @users 127.0.0.1/32 trust\n",
    )
    .unwrap();
    let path = dir.join("pg_hba.conf").to_string_lossy().into_owned();
    let opts = ParseOptions::new(Profile::Pg15).with_resolver(&FsResolver);
    let load = load_hba_file(&path, &opts);
    assert!(load.is_ok(), "{}", load.render_log());
    assert_eq!(load.config.rows[0].users.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
