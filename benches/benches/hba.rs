//! pg_hba.conf: parsing a 1,000-line file and matching connections against it (first row,
//! last row, no row).

use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pgssl_server::hba::{ConnFacts, ConnKind, ParseOptions, parse_hba_str};
use pgssl_server::profile::Profile;
use std::hint::black_box;

/// 999 rows that do not match the benchmark's connection (other databases, users and
/// networks, a mix of keywords), then `hostssl all all 127.0.0.1/32 cert`.
fn thousand_lines() -> String {
    let mut text = String::from("# 1,000-line pg_hba.conf for benchmarks\n");
    for i in 0..999u32 {
        let (a, b) = (i / 250, i % 250);
        let line = match i % 4 {
            0 => format!("host db{i} user{i} 10.{a}.{b}.0/24 scram-sha-256\n"),
            1 => format!("hostssl db{i},other{i} +group{i} 10.{a}.{b}.0 255.255.255.0 md5\n"),
            2 => format!("hostnossl all user{i} 192.168.{a}.{b}/32 trust\n"),
            _ => format!("host \"db {i}\" /^user{i}$ fd00::{i:x}/128 reject\n"),
        };
        text.push_str(&line);
    }
    text.push_str("hostssl all all 127.0.0.1/32 cert\n");
    text
}

fn facts(user: &str, db: &str) -> ConnFacts {
    ConnFacts {
        kind: ConnKind::Host,
        ssl: true,
        addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        user: user.into(),
        database: db.into(),
        ..ConnFacts::default()
    }
}

fn hba(c: &mut Criterion) {
    let text = thousand_lines();
    let opts = ParseOptions::new(Profile::Pg15);
    let config = parse_hba_str(&text, "pg_hba.conf", &opts)
        .into_result()
        .expect("the benchmark's pg_hba.conf parses");
    assert_eq!(config.rows.len(), 1000);
    let mut g = c.benchmark_group("hba");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_1000_lines", |b| {
        b.iter(|| parse_hba_str(black_box(&text), "pg_hba.conf", &opts))
    });
    let last = facts("alice", "postgres");
    g.bench_function("match_last_of_1000", |b| {
        b.iter(|| {
            let row = config.find(black_box(&last)).expect("the last row matches");
            black_box(row);
        })
    });
    let first = ConnFacts {
        addr: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
        ssl: false,
        ..facts("user0", "db0")
    };
    g.bench_function("match_first_of_1000", |b| {
        b.iter(|| black_box(config.find(black_box(&first))).is_some())
    });
    let none = ConnFacts {
        addr: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))),
        ..facts("mallory", "postgres")
    };
    g.bench_function("match_none_of_1000", |b| {
        b.iter(|| assert!(config.find(black_box(&none)).is_none()))
    });
    g.finish();
}

criterion_group!(benches, hba);
criterion_main!(benches);
