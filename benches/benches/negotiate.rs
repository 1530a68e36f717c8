//! The negotiation state machine, with TLS simulated: typical sequences and worst cases.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pgssl_server::negotiate::{Action, Event, NegotiateConfig, Negotiator, SocketKind};
use pgssl_server::profile::Profile;
use pgssl_server::wire::{ProtocolVersion, StartupMessage, StartupPacket};
use std::hint::black_box;

fn config(profile: Profile, ssl: bool) -> NegotiateConfig {
    NegotiateConfig {
        behaviour: profile.behaviour(),
        ssl_loaded: ssl,
        socket: SocketKind::Tcp,
        tls_version_range: ("TLSv1.2".into(), "TLSv1.3".into()),
        trace: false,
    }
}

fn startup(params: &[(String, String)]) -> Vec<u8> {
    StartupPacket::Startup(StartupMessage::new(ProtocolVersion(0x0003_0000), params)).to_bytes()
}

fn drain(m: &mut Negotiator) -> usize {
    let mut n = 0;
    while let Some(a) = m.poll_action() {
        black_box(&a);
        n += 1;
    }
    n
}

/// SSLRequest, handshake established, StartupMessage over TLS, in the given write size.
fn run_tls(cfg: &NegotiateConfig, ssl_request: &[u8], login: &[u8], chunk: usize) -> bool {
    let mut m = Negotiator::new(cfg.clone());
    m.handle(Event::Received(ssl_request));
    let mut tls = false;
    while let Some(a) = m.poll_action() {
        tls |= matches!(a, Action::StartTls { .. });
    }
    assert!(tls, "TLS requested");
    m.handle(Event::TlsEstablished {
        alpn: None,
        unread_prefix: 0,
    });
    drain(&mut m);
    for piece in login.chunks(chunk) {
        m.handle(Event::Received(piece));
        drain(&mut m);
    }
    m.is_finished()
}

fn negotiate(c: &mut Criterion) {
    let mut g = c.benchmark_group("negotiate");
    g.throughput(Throughput::Elements(1));
    let ssl_request = StartupPacket::ssl_request().to_bytes();
    let typical = startup(&[
        ("user".into(), "alice".into()),
        ("database".into(), "postgres".into()),
        ("application_name".into(), "psql".into()),
    ]);
    // The largest accepted packet: 340 parameters, close to 10,000 bytes.
    let params: Vec<(String, String)> = (0..340)
        .map(|i| (format!("opt_{i:04}"), format!("value-{i:012}")))
        .collect();
    let mut big = params.clone();
    big.insert(0, ("user".into(), "alice".into()));
    let big = startup(&big);
    assert!(big.len() < 10_000, "within the length limit: {}", big.len());

    for (name, profile) in [("15", Profile::Pg15), ("18", Profile::Pg18)] {
        let cfg = config(profile, true);
        g.bench_function(format!("typical/{name}"), |b| {
            b.iter(|| assert!(run_tls(&cfg, &ssl_request, &typical, usize::MAX)))
        });
        g.bench_function(format!("large_one_write/{name}"), |b| {
            b.iter(|| assert!(run_tls(&cfg, &ssl_request, &big, usize::MAX)))
        });
        g.bench_function(format!("large_byte_at_a_time/{name}"), |b| {
            b.iter(|| assert!(run_tls(&cfg, &ssl_request, &big, 1)))
        });
    }
    // SSL off: SSLRequest/GSSENCRequest refused and repeated (15 lets them alternate), then
    // a plaintext startup.
    let gss = StartupPacket::gssenc_request().to_bytes();
    let cfg = config(Profile::Pg15, false);
    let mut seq = Vec::new();
    for _ in 0..50 {
        seq.extend_from_slice(&ssl_request);
        seq.extend_from_slice(&gss);
    }
    seq.extend_from_slice(&typical);
    g.bench_function("refused_requests_100_then_startup/15", |b| {
        b.iter(|| {
            let mut m = Negotiator::new(cfg.clone());
            m.handle(Event::Received(black_box(&seq)));
            drain(&mut m);
            m.handle(Event::Eof);
            drain(&mut m)
        })
    });
    g.finish();
}

criterion_group!(benches, negotiate);
criterion_main!(benches);
