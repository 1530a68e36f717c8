//! A10 ciphers as Part F §5 observed them: NULL-SHA works only with `@SECLEVEL=0`, an RSA key
//! and TLS 1.2 (pgssl never lowers the security level itself); `OPENSSL_CONF` is honoured;
//! ssl_ciphers leaves TLS 1.3 alone; 18's ssl_tls13_ciphers; ssl_prefer_server_ciphers.

use openssl::ssl::SslVersion;
use pgssl_testkit::*;

fn rsa_data() -> Data {
    Data::with(&Identity::self_signed("localhost", rsa_key()))
}

/// A TLS 1.2 client offering only NULL-SHA at security level 0 (`openssl s_client -tls1_2
/// -cipher 'NULL-SHA:@SECLEVEL=0'`).
fn null_sha_client(b: &mut openssl::ssl::SslConnectorBuilder) {
    tls12(b);
    b.set_cipher_list("NULL-SHA:@SECLEVEL=0").unwrap();
}

const TLS12_ONLY: [&str; 3] = [
    "ssl=on",
    "ssl_min_protocol_version=TLSv1.2",
    "ssl_max_protocol_version=TLSv1.2",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    let mut all = TLS12_ONLY.to_vec();
    all.extend_from_slice(extra);
    all
}

#[test]
fn null_sha_needs_seclevel_zero_and_an_rsa_key() {
    let data = rsa_data();
    let server = Spawn::with(&with(&[
        "ssl_ciphers=NULL-SHA:@SECLEVEL=0",
        "log_connections=on",
    ]))
    .start(&data)
    .running();
    let tls = server.tls(null_sha_client).expect("NULL-SHA handshake");
    let cipher = tls.ssl().current_cipher().unwrap();
    assert_eq!(cipher.name(), "NULL-SHA");
    assert_eq!(cipher.bits().secret, 0);
    assert_eq!(tls.ssl().version_str(), "TLSv1.2");
    drop(tls);
    // A normal client has no cipher in common.
    let err = server.tls(tls12).expect_err("refused");
    assert!(err.contains("handshake failure"), "{err}");
    server.wait_for_log("LOG:  could not accept SSL connection: no shared cipher");
    drop(server);

    // Without @SECLEVEL=0 the server starts but no handshake succeeds.
    let server = Spawn::with(&with(&["ssl_ciphers=NULL-SHA"]))
        .start(&data)
        .running();
    let err = server.tls(null_sha_client).expect_err("refused");
    assert!(err.contains("handshake failure"), "{err}");
    server.wait_for_log("could not accept SSL connection: no shared cipher");
    drop(server);

    // NULL-SHA authenticates with RSA: a P-256 certificate cannot serve it.
    let server = Spawn::with(&with(&["ssl_ciphers=NULL-SHA:@SECLEVEL=0"]))
        .start(&Data::new())
        .running();
    let err = server.tls(null_sha_client).expect_err("refused");
    assert!(err.contains("handshake failure"), "{err}");
}

#[test]
fn openssl_conf_security_level_survives_ssl_ciphers() {
    let data = rsa_data();
    let conf = data.file("openssl-seclevel0.cnf");
    std::fs::write(
        &conf,
        "openssl_conf = openssl_init\n\
         [openssl_init]\nssl_conf = ssl_sect\n\
         [ssl_sect]\nsystem_default = system_default_sect\n\
         [system_default_sect]\nCipherString = DEFAULT@SECLEVEL=0\n",
    )
    .unwrap();
    let server = Spawn::with(&with(&["ssl_ciphers=NULL-SHA"]))
        .env("OPENSSL_CONF", conf.to_str().unwrap())
        .start(&data)
        .running();
    let tls = server
        .tls(null_sha_client)
        .expect("NULL-SHA via OPENSSL_CONF");
    assert_eq!(tls.ssl().current_cipher().unwrap().name(), "NULL-SHA");
}

#[test]
fn ssl_ciphers_does_not_touch_tls13() {
    let data = rsa_data();
    let server = Spawn::with(&["ssl=on", "ssl_ciphers=NULL-SHA:@SECLEVEL=0"])
        .start(&data)
        .running();
    let tls = server.tls(|_| {}).expect("TLS 1.3");
    assert_eq!(tls.ssl().version_str(), "TLSv1.3");
    assert_eq!(
        tls.ssl().current_cipher().unwrap().name(),
        "TLS_AES_256_GCM_SHA384"
    );
    drop(tls);
    server
        .tls(null_sha_client)
        .expect("TLS 1.2 NULL-SHA still works");
}

#[test]
fn tls13_suites_in_18() {
    let server = Spawn::with(&[
        "ssl=on",
        "pgssl.profile=18",
        "ssl_tls13_ciphers=TLS_CHACHA20_POLY1305_SHA256",
    ])
    .start(&Data::new())
    .running();
    let tls = server.tls(|_| {}).expect("TLS 1.3");
    assert_eq!(
        tls.ssl().current_cipher().unwrap().name(),
        "TLS_CHACHA20_POLY1305_SHA256"
    );
}

#[test]
fn server_cipher_preference() {
    let data = Data::new();
    let server_order = "ssl_ciphers=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
    let client = |b: &mut openssl::ssl::SslConnectorBuilder| {
        b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        b.set_cipher_list("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
            .unwrap();
    };
    let cipher = |prefer: &'static str| {
        let server = Spawn::with(&["ssl=on", server_order, prefer])
            .start(&data)
            .running();
        let tls = server.tls(client).expect("handshake");
        tls.ssl().current_cipher().unwrap().name().to_owned()
    };
    assert_eq!(
        cipher("ssl_prefer_server_ciphers=on"),
        "ECDHE-ECDSA-AES128-GCM-SHA256"
    );
    assert_eq!(
        cipher("ssl_prefer_server_ciphers=off"),
        "ECDHE-ECDSA-AES256-GCM-SHA384"
    );
}
