//! `pgssl-server init -D DIR`: the files it writes, their modes, refusing a non-empty
//! directory, and `psql sslmode=verify-full` against the new certificate out of the box.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use pgssl_testkit::*;

fn init(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(server_binary())
        .arg("init")
        .arg("-D")
        .arg(dir)
        .args(extra)
        .output()
        .expect("run init")
}

fn mode(path: std::path::PathBuf) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_writes_the_files_and_refuses_a_non_empty_directory() {
    let parent = Data::empty();
    let dir = parent.file("data");
    let out = init(&dir, &["--profile", "18"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "pg_hba.conf",
            "pg_ident.conf",
            "postgresql.conf",
            "server.crt",
            "server.key"
        ]
    );
    assert_eq!(mode(dir.join("server.key")), 0o600);
    assert_eq!(mode(dir.clone()), 0o700);
    let conf = std::fs::read_to_string(dir.join("postgresql.conf")).unwrap();
    for line in [
        "pgssl.profile = '18'",
        "ssl = on",
        "#ssl_cert_file = 'server.crt'",
        "#ssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL'",
        "#ssl_min_protocol_version = 'TLSv1.2'",
        "#ssl_groups = 'X25519:prime256v1'",
        "#ssl_tls13_ciphers = ''",
        "#ssl_passphrase_command_supports_reload = off",
    ] {
        assert!(conf.contains(line), "{line} missing from:\n{conf}");
    }
    let hba = std::fs::read_to_string(dir.join("pg_hba.conf")).unwrap();
    assert!(
        hba.contains("127.0.0.1/32") && hba.contains("::1/128"),
        "{hba}"
    );

    let again = init(&dir, &[]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("exists but is not empty"), "{err}");
    // Nothing was overwritten.
    assert_eq!(
        std::fs::read_to_string(dir.join("postgresql.conf")).unwrap(),
        conf
    );
}

#[test]
fn init_then_psql_verify_full() {
    if !have_psql() {
        return;
    }
    let parent = Data::empty();
    let dir = parent.file("data");
    let out = init(&dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Spawn::default().start_at(&dir).running();
    let root = dir.join("server.crt");
    for host in ["localhost", "127.0.0.1"] {
        let out = Command::new("psql")
            .arg(format!(
                "host={host} port={} user=alice dbname=postgres sslmode=verify-full sslrootcert={}",
                server.port,
                root.display()
            ))
            .args(["-XAtc", "SHOW pgssl.profile"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "seed");
    }
}
