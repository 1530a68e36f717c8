//! `negotiate`: client bytes fed to the sans-IO negotiation state machine, with TLS
//! simulated, under a server configuration taken from a three-byte header.
//!
//! Input layout (so conformance cases' client bytes can be used as seeds by prefixing a
//! header; see fuzz/README.md):
//!
//! - byte 0, the server: bits 0-1 and 6-7 the profile (`PROFILE_CODES[(b & 3) | (b >> 4 &
//!   12)]`: 0x00 seed, 0x01 PG 15, 0x02 PG 18, 0x03 PG 18, 0x40 PG 13, 0x41 PG 14, 0x42 PG 16,
//!   0x43 PG 17), bit 2 SSL *off*, bit 3 Unix socket, bit 4 `trace_connection_negotiation`,
//!   bit 5 end with `authentication_timeout` instead of EOF;
//! - byte 1, every TLS handshake's outcome: bits 0-1 (0 established with ALPN
//!   `postgresql`, 1 established without ALPN, 2 established with ALPN `http/1.1`,
//!   3 failed), bits 2-7 how many prefix bytes TLS leaves unread;
//! - byte 2, how the client's writes are cut: 0 one write per complete packet (as clients
//!   write), 255 everything in one write, otherwise writes of that many bytes;
//! - the rest: the client's bytes (after TLS starts, they count as decrypted TLS data).
//!
//! Invariants (see `pgssl_fuzz::negotiation`): no panic; every one-byte reply answers one
//! request of the current layer (`S` only to an SSLRequest, each kind once under 18's
//! rules); no byte received before TLS is delivered as post-TLS startup data
//! (CVE-2021-23214); a length word out of range closes the connection before anything is
//! buffered; the machine is finished after EOF or the timeout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgssl_fuzz::negotiation::{Alpn, Driver, Failure, ServerChoice, TlsOutcome};
use pgssl_server::wire::PacketFrame;
use pgssl_server::wire::frontend::frame_startup_packet;

fuzz_target!(|data: &[u8]| {
    let [server, tls, cut, client @ ..] = data else {
        return;
    };
    let choice = ServerChoice {
        profile: (server & 3) | ((server >> 4) & 12),
        ssl_loaded: server & 4 == 0,
        unix: server & 8 != 0,
        trace: server & 16 != 0,
    };
    let unread = u16::from(tls >> 2);
    let outcome = match tls & 3 {
        0 => TlsOutcome::Established {
            alpn: Alpn::Postgresql,
            unread,
        },
        1 => TlsOutcome::Established {
            alpn: Alpn::None,
            unread,
        },
        2 => TlsOutcome::Established {
            alpn: Alpn::Other(b"http/1.1".to_vec()),
            unread,
        },
        _ => TlsOutcome::Failed {
            failure: Failure::Refused {
                reason: "wrong version number".into(),
                protocol_hint: true,
            },
            unread,
        },
    };
    // At most two handshakes can happen (none can, in fact, after the first).
    let mut driver = Driver::new(choice, vec![outcome.clone(), outcome]);
    for chunk in writes(client, *cut) {
        if driver.is_finished() {
            break;
        }
        driver.received(chunk);
    }
    if server & 32 != 0 {
        driver.timeout();
    } else {
        driver.eof();
    }
});

/// Cuts the client's bytes into writes.
fn writes(client: &[u8], cut: u8) -> Vec<&[u8]> {
    match cut {
        255 => vec![client],
        0 => {
            let mut out = Vec::new();
            let mut rest = client;
            while !rest.is_empty() {
                let take = match frame_startup_packet(rest) {
                    PacketFrame::Complete { total } => total,
                    _ => rest.len(),
                };
                let (head, tail) = rest.split_at(take);
                out.push(head);
                rest = tail;
            }
            out
        }
        n => client.chunks(usize::from(n)).collect(),
    }
}
