//! The sans-IO codec: startup packets (decode/encode) and backend messages.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pgssl_server::wire::backend::Authentication;
use pgssl_server::wire::frontend::frame_startup_packet;
use pgssl_server::wire::{
    BackendMessage, ErrorFields, ProtocolVersion, Severity, StartupMessage, StartupPacket,
    TransactionStatus,
};
use std::hint::black_box;

fn typical_startup() -> StartupPacket {
    StartupPacket::Startup(StartupMessage::new(
        ProtocolVersion(0x0003_0000),
        &[
            ("user", "alice"),
            ("database", "postgres"),
            ("application_name", "psql"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
        ],
    ))
}

/// A startup packet close to the 10,000-byte limit: 300 parameters.
fn large_startup() -> StartupPacket {
    let params: Vec<(String, String)> = (0..300)
        .map(|i| (format!("_pq_.option_{i:04}"), format!("value-{i:08}")))
        .collect();
    StartupPacket::Startup(StartupMessage::new(ProtocolVersion(0x0003_0000), &params))
}

/// What the server sends after a successful startup.
fn login_reply() -> Vec<BackendMessage> {
    let mut v = vec![BackendMessage::Authentication(Authentication::Ok)];
    for (name, value) in [
        ("application_name", "psql"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "off"),
        ("server_encoding", "UTF8"),
        ("server_version", "15.18"),
        ("session_authorization", "alice"),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "UTC"),
    ] {
        v.push(BackendMessage::ParameterStatus {
            name: name.into(),
            value: value.into(),
        });
    }
    v.push(BackendMessage::BackendKeyData {
        pid: 4242,
        key: vec![1, 2, 3, 4],
    });
    v.push(BackendMessage::ReadyForQuery(TransactionStatus::Idle));
    v
}

fn wire(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire");
    for (name, packet) in [
        ("ssl_request", StartupPacket::ssl_request()),
        ("startup_typical", typical_startup()),
        ("startup_large", large_startup()),
    ] {
        let bytes = packet.to_bytes();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("encode/{name}"), |b| {
            let mut out = Vec::with_capacity(bytes.len());
            b.iter(|| {
                out.clear();
                black_box(&packet).encode(&mut out);
                black_box(&out);
            })
        });
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                let frame = frame_startup_packet(black_box(&bytes));
                let decoded = StartupPacket::decode(&bytes).expect("decodes");
                if let StartupPacket::Startup(m) = &decoded {
                    black_box(m.parameters().expect("layout")).len();
                }
                black_box((frame, decoded))
            })
        });
    }

    let reply = login_reply();
    let mut bytes = Vec::new();
    for m in &reply {
        m.encode(&mut bytes);
    }
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode/login_reply", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            for m in black_box(&reply) {
                m.encode(&mut out);
            }
            black_box(&out);
        })
    });
    g.bench_function("decode/login_reply", |b| {
        b.iter(|| {
            let mut at = 0;
            let mut n = 0;
            while let Some((m, used)) = BackendMessage::decode(&bytes[at..]).expect("decodes") {
                at += used;
                n += 1;
                black_box(m);
            }
            n
        })
    });
    let error = BackendMessage::ErrorResponse(
        ErrorFields::new(
            Severity::Fatal,
            "28000",
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"alice\", database \"postgres\", SSL encryption",
        )
        .with_detail("detail")
        .with_hint("hint"),
    );
    let ebytes = error.to_bytes();
    g.throughput(Throughput::Bytes(ebytes.len() as u64));
    g.bench_function("encode/error_response", |b| {
        b.iter(|| black_box(&error).to_bytes())
    });
    g.bench_function("decode/error_response", |b| {
        b.iter(|| BackendMessage::decode(black_box(&ebytes)).expect("decodes"))
    });
    g.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
