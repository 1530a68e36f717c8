//! `startup_sequence`: structure-aware negotiation. The input is an `arbitrary`-derived
//! script of packets built with the codec (SSLRequest, GSSENCRequest, StartupMessage with
//! parameters, CancelRequest, a ClientHello start, raw bytes), written in groups, with TLS
//! outcomes, so the fuzzer gets past the length checks and into the parameter rules.
//!
//! Every run is checked by `pgssl_fuzz::negotiation::Driver` (the invariants of the
//! `negotiate` target), and differentially: the same writes cut at arbitrary points
//! *inside* packets (never at a packet boundary, where pipelining is observable) must give
//! exactly the same actions as the writes delivered whole. (Cuts stop at the end of a
//! write's first SSLRequest: what follows it goes to the TLS library.)
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pgssl_fuzz::negotiation::{Driver, ServerChoice, TlsOutcome};
use pgssl_server::wire::{CancelRequest, ProtocolVersion, StartupMessage, StartupPacket};

#[derive(Arbitrary, Debug)]
struct Input {
    server: ServerChoice,
    tls: Vec<TlsOutcome>,
    writes: Vec<Write>,
    end: End,
}

/// One client write: packets sent together (pipelined), and cut points used by the
/// second run.
#[derive(Arbitrary, Debug)]
struct Write {
    packets: Vec<Packet>,
    cuts: Vec<u16>,
    /// A TLS completion event no handshake asked for, delivered first (must be ignored).
    spurious_tls: Option<TlsOutcome>,
}

#[derive(Arbitrary, Debug)]
enum End {
    Eof,
    Timeout,
}

#[derive(Arbitrary, Debug)]
enum Packet {
    Ssl,
    SslWithExtra(Vec<u8>),
    Gss,
    Startup {
        major: Major,
        minor: u16,
        params: Vec<Param>,
        layout: Layout,
    },
    Cancel {
        pid: u32,
        key: Vec<u8>,
    },
    /// The start of a TLS record: `0x16 0x03 0x01` and arbitrary bytes.
    ClientHello(Vec<u8>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Major {
    Three,
    Two,
    Other(u16),
}

#[derive(Arbitrary, Debug)]
enum Layout {
    Terminated,
    Unterminated,
    Trailing(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Param {
    User(Vec<u8>),
    Database(Vec<u8>),
    Options(Vec<u8>),
    Replication(Replication),
    ApplicationName(Vec<u8>),
    ClientEncoding(Vec<u8>),
    Protocol(Vec<u8>, Vec<u8>),
    Other(Vec<u8>, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Replication {
    True,
    False,
    Database,
    On,
    Zero,
    Other(Vec<u8>),
}

fn no_nul(mut v: Vec<u8>) -> Vec<u8> {
    v.retain(|&b| b != 0);
    v
}

impl Param {
    fn pair(&self) -> (Vec<u8>, Vec<u8>) {
        let (name, value): (&[u8], Vec<u8>) = match self {
            Param::User(v) => (b"user", v.clone()),
            Param::Database(v) => (b"database", v.clone()),
            Param::Options(v) => (b"options", v.clone()),
            Param::Replication(r) => (
                b"replication",
                match r {
                    Replication::True => b"true".to_vec(),
                    Replication::False => b"false".to_vec(),
                    Replication::Database => b"database".to_vec(),
                    Replication::On => b"on".to_vec(),
                    Replication::Zero => b"0".to_vec(),
                    Replication::Other(v) => v.clone(),
                },
            ),
            Param::ApplicationName(v) => (b"application_name", v.clone()),
            Param::ClientEncoding(v) => (b"client_encoding", v.clone()),
            Param::Protocol(n, v) => {
                let name = [&b"_pq_."[..], n].concat();
                return (no_nul(name), no_nul(v.clone()));
            }
            Param::Other(n, v) => {
                let mut name = no_nul(n.clone());
                if name.is_empty() {
                    name.push(b'x');
                }
                return (name, no_nul(v.clone()));
            }
        };
        (name.to_vec(), no_nul(value))
    }
}

impl Packet {
    /// The bytes, and whether they frame as exactly one packet.
    fn encode(&self) -> (Vec<u8>, bool) {
        let packet = match self {
            Packet::Ssl => StartupPacket::ssl_request(),
            Packet::SslWithExtra(extra) => StartupPacket::SslRequest {
                extra: extra.clone(),
            },
            Packet::Gss => StartupPacket::gssenc_request(),
            Packet::Startup {
                major,
                minor,
                params,
                layout,
            } => {
                let major = match major {
                    Major::Three => 3,
                    Major::Two => 2,
                    Major::Other(m) => *m,
                };
                let pairs: Vec<_> = params.iter().map(Param::pair).collect();
                let mut msg = StartupMessage::new(ProtocolVersion::new(major, *minor), &pairs);
                match layout {
                    Layout::Terminated => {}
                    Layout::Unterminated => {
                        msg.raw_parameters.pop();
                    }
                    Layout::Trailing(junk) => msg.raw_parameters.extend_from_slice(junk),
                }
                StartupPacket::Startup(msg)
            }
            Packet::Cancel { pid, key } => StartupPacket::Cancel(CancelRequest::new(*pid, key)),
            Packet::ClientHello(rest) => {
                return ([&[0x16, 0x03, 0x01][..], rest].concat(), false);
            }
            Packet::Raw(bytes) => return (bytes.clone(), false),
        };
        let bytes = packet.to_bytes();
        let framed = (8..=10_004).contains(&bytes.len());
        (bytes, framed)
    }
}

fn run(input: &Input, cut: bool) -> Vec<pgssl_server::negotiate::Action> {
    let mut driver = Driver::new(input.server, input.tls.clone());
    for write in &input.writes {
        if let Some(outcome) = write
            .spurious_tls
            .as_ref()
            .filter(|_| !driver.is_finished())
        {
            driver.spurious_tls(outcome);
        }
        let encoded: Vec<_> = write.packets.iter().map(Packet::encode).collect();
        let bytes: Vec<u8> = encoded
            .iter()
            .flat_map(|(b, _)| b.iter().copied())
            .collect();
        let all_framed = encoded.iter().all(|(_, framed)| *framed);
        let mut chunks = vec![bytes.as_slice()];
        if cut && all_framed && !bytes.is_empty() {
            // Cut points strictly inside packets.
            let mut boundaries = vec![0usize];
            for (b, _) in &encoded {
                boundaries.push(boundaries.last().copied().unwrap_or(0) + b.len());
            }
            // Bytes after an SSLRequest that gets `S` go to the TLS library, not to the
            // machine, so cuts stop at the end of the write's first SSLRequest.
            let limit = write
                .packets
                .iter()
                .position(|p| matches!(p, Packet::Ssl | Packet::SslWithExtra(_)))
                .map_or(bytes.len(), |i| boundaries[i + 1]);
            let mut points: Vec<usize> = write
                .cuts
                .iter()
                .map(|&c| usize::from(c) % bytes.len())
                .filter(|p| *p < limit && !boundaries.contains(p))
                .collect();
            points.sort_unstable();
            points.dedup();
            chunks.clear();
            let mut at = 0;
            for p in points {
                chunks.push(&bytes[at..p]);
                at = p;
            }
            chunks.push(&bytes[at..]);
        }
        for chunk in chunks {
            if driver.is_finished() {
                break;
            }
            driver.received(chunk);
        }
    }
    match input.end {
        End::Eof => driver.eof(),
        End::Timeout => driver.timeout(),
    }
    driver.transcript
}

fuzz_target!(|input: Input| {
    let whole = run(&input, false);
    let cut = run(&input, true);
    assert_eq!(
        whole, cut,
        "cutting writes inside packets changed the outcome"
    );
});
