//! `startup_packet`: arbitrary bytes as the first thing a client sends.
//!
//! Checks that framing (`frame_startup_packet`) never claims a packet outside 8..=10004
//! bytes or beyond the buffer, that every framed packet decodes and re-encodes to the same
//! bytes, that a StartupMessage whose layout is valid rebuilds from its parameters (up to
//! PostgreSQL's quirk of taking a lone last byte for the terminator), that
//! the CancelRequest accessors agree with the payload, and that the typed frontend and
//! backend message codecs round-trip whatever they decode. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgssl_server::wire::backend::decode_v2_error;
use pgssl_server::wire::frontend::frame_startup_packet;
use pgssl_server::wire::{
    BackendMessage, FrontendMessage, MAX_STARTUP_PACKET_LENGTH, MIN_STARTUP_PACKET_LENGTH,
    PacketFrame, StartupMessage, StartupPacket,
};

const MIN_TOTAL: usize = MIN_STARTUP_PACKET_LENGTH + 4;
const MAX_TOTAL: usize = MAX_STARTUP_PACKET_LENGTH + 4;

fn check_packet(packet: &[u8]) {
    let decoded = StartupPacket::decode(packet).expect("a framed packet decodes");
    assert_eq!(decoded.to_bytes(), packet, "re-encoding changed the bytes");
    match &decoded {
        StartupPacket::Startup(msg) => {
            let (params, layout) = msg.scan_parameters();
            assert_eq!(msg.parameters().ok(), layout.ok().map(|()| params.clone()));
            if layout.is_ok() {
                let pairs: Vec<_> = params.iter().map(|p| (&p.name, &p.value)).collect();
                let mut expected = StartupMessage::new(msg.version, &pairs).raw_parameters;
                // PostgreSQL's scan (and ours) also accepts a lone non-NUL last byte where
                // the terminator belongs: it reads as a name without a value, and the scan
                // stops at `len - 1` all the same.
                if let Some(&last) = msg.raw_parameters.last().filter(|&&b| b != 0) {
                    expected.pop();
                    expected.push(last);
                }
                assert_eq!(
                    expected, msg.raw_parameters,
                    "valid layout does not rebuild"
                );
            }
            for p in &params {
                assert!(!p.name.is_empty() && !p.name.contains(&0) && !p.value.contains(&0));
            }
        }
        StartupPacket::Cancel(cancel) => {
            let mut rebuilt = cancel
                .pid()
                .map(u32::to_be_bytes)
                .unwrap_or_default()
                .to_vec();
            if cancel.pid().is_some() {
                rebuilt.extend_from_slice(cancel.key());
                assert_eq!(rebuilt, cancel.payload);
            } else {
                assert!(cancel.payload.len() < 4 && cancel.key().is_empty());
            }
        }
        StartupPacket::SslRequest { .. } | StartupPacket::GssEncRequest { .. } => {}
    }
}

fuzz_target!(|data: &[u8]| {
    match frame_startup_packet(data) {
        PacketFrame::NeedLength { have } => assert!(have < 4 && have == data.len()),
        PacketFrame::InvalidLength { length } => {
            let signed = i64::from(length as i32);
            assert!(!(MIN_TOTAL as i64..=MAX_TOTAL as i64).contains(&signed));
        }
        PacketFrame::NeedBody { total } => {
            assert!((MIN_TOTAL..=MAX_TOTAL).contains(&total) && data.len() < total);
        }
        PacketFrame::Complete { total } => {
            assert!((MIN_TOTAL..=MAX_TOTAL).contains(&total) && total <= data.len());
            check_packet(&data[..total]);
        }
    }
    // Decoding whole buffers directly: whatever decodes is the same bytes again.
    if let Ok(packet) = StartupPacket::decode(data) {
        assert_eq!(packet.to_bytes(), data);
    }
    // Typed messages after startup.
    if let Ok(Some((msg, used))) = FrontendMessage::decode(data) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        msg.encode(&mut out);
        // Terminate ignores a body, so compare what the bytes mean.
        assert_eq!(
            FrontendMessage::decode(&out),
            Ok(Some((msg.clone(), out.len())))
        );
        if msg != FrontendMessage::Terminate {
            assert_eq!(out, data[..used]);
        }
    }
    if let Ok(Some((msg, used))) = BackendMessage::decode(data) {
        assert!(used <= data.len());
        let out = msg.to_bytes();
        assert_eq!(BackendMessage::decode(&out), Ok(Some((msg, out.len()))));
    }
    if let Some((_, used)) = decode_v2_error(data) {
        assert!(used <= data.len());
    }
});
