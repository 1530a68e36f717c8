//! Full connections against the in-process reference server over loopback: TCP connect,
//! SSLRequest, TLS handshake, StartupMessage, AuthenticationOk ... ReadyForQuery, Terminate.
//! One client connection at a time; the figure is connections per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openssl::ssl::SslVersion;
use pgssl_benches::{
    InProcessServer, KeyKind, ServerSpec, connect_once, connector, server_certificate,
    startup_bytes,
};

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    let startup = startup_bytes("bench");

    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let server = InProcessServer::start(&ServerSpec::tls(server_certificate(kind)));
        for (version, vname) in [(SslVersion::TLS1_3, "tls13"), (SslVersion::TLS1_2, "tls12")] {
            let tls = connector(version, None, None);
            group.bench_function(format!("{}/{vname}/trust", kind.name()), |b| {
                b.iter(|| connect_once(server.addr, Some(&tls), &startup))
            });
        }
    }

    // Client certificate with `cert` authentication: the test PKI's server certificate
    // (RSA 2048) and client.crt (CN ssltestuser), CA root+client_ca.crt.
    let pki_dir = tempfile::tempdir().expect("PKI directory");
    let pki = pgssl_pki::generate(pki_dir.path()).expect("test PKI");
    let crt = std::fs::read(pki.path("server-cn-only.crt")).expect("server cert");
    let key = std::fs::read(pki.path("server-cn-only.key")).expect("server key");
    let mut spec = ServerSpec::tls((crt, key));
    spec.hba = "hostssl all all 127.0.0.1/32 cert\n".into();
    spec.conf.push(format!(
        "ssl_ca_file = '{}'",
        pki.path("root+client_ca.crt").display()
    ));
    let server = InProcessServer::start(&spec);
    let client_startup = startup_bytes("ssltestuser");
    // The client key must not be group/world readable for libpq, not for us; use it as is.
    let client_crt = pki.path("client.crt");
    let client_key = pki.path("client.key");
    for (version, vname) in [(SslVersion::TLS1_3, "tls13"), (SslVersion::TLS1_2, "tls12")] {
        let tls = connector(version, Some((&client_crt, &client_key)), None);
        group.bench_function(format!("rsa2048-pki/{vname}/clientcert"), |b| {
            b.iter(|| connect_once(server.addr, Some(&tls), &client_startup))
        });
    }
    drop(server);

    let plain = InProcessServer::start(&ServerSpec {
        cert: None,
        conf: Vec::new(),
        hba: "host all all 127.0.0.1/32 trust\n".into(),
    });
    group.bench_function("plaintext/trust", |b| {
        b.iter(|| connect_once(plain.addr, None, &startup))
    });
    group.finish();
}

criterion_group!(benches, handshake);
criterion_main!(benches);
