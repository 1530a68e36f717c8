//! Packet encoding: the bytes of a write step's packets, and the names the trace gives them.
//! Pure: the only state a packet depends on is the session's cancel key.

use pgssl_server::wire::{
    CancelRequest, FrontendMessage, ProtocolVersion, StartupMessage, StartupPacket,
};

use crate::case::{Packet, PacketSpec};

/// A session's cancel key, from its BackendKeyData: process id and key bytes.
pub(super) type CancelKey = (u32, Vec<u8>);

/// The StartupMessage of `startup` and of logins: protocol 3.0, user and database `postgres`.
pub(super) fn default_startup() -> StartupPacket {
    StartupPacket::Startup(StartupMessage::new(
        ProtocolVersion::V3_0,
        &[("user", "postgres"), ("database", "postgres")],
    ))
}

/// The bytes of `packets`, concatenated, and each packet's name; `key` is the session's own
/// cancel key for `Cancel { own: true }`.
pub(crate) fn encode(packets: &[Packet], key: Option<&CancelKey>) -> (Vec<u8>, Vec<String>) {
    let mut bytes = Vec::new();
    let mut names = Vec::new();
    for p in packets {
        let (b, name) = encode_one(p, key);
        bytes.extend_from_slice(&b);
        names.push(name);
    }
    (bytes, names)
}

fn encode_one(packet: &Packet, key: Option<&CancelKey>) -> (Vec<u8>, String) {
    match packet {
        Packet::Named(name) => match name.as_str() {
            "ssl_request" => (StartupPacket::ssl_request().to_bytes(), "SSLRequest".into()),
            "gssenc_request" => (
                StartupPacket::gssenc_request().to_bytes(),
                "GSSENCRequest".into(),
            ),
            "startup" => (default_startup().to_bytes(), "StartupMessage".into()),
            "terminate" => {
                let mut out = Vec::new();
                FrontendMessage::Terminate.encode(&mut out);
                (out, "Terminate".into())
            }
            other => match other.strip_prefix("query:") {
                Some(sql) => {
                    let mut out = Vec::new();
                    FrontendMessage::Query(sql.as_bytes().to_vec()).encode(&mut out);
                    (out, format!("Query({sql})"))
                }
                None => (Vec::new(), format!("unknown packet {other:?}")),
            },
        },
        Packet::Detailed(spec) => encode_spec(spec, key),
    }
}

fn encode_spec(spec: &PacketSpec, key: Option<&CancelKey>) -> (Vec<u8>, String) {
    match spec {
        PacketSpec::Startup {
            version,
            params,
            no_terminator,
            pad_to,
        } => {
            let v = version.as_deref().unwrap_or("3.0");
            let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
            let version =
                ProtocolVersion::new(major.parse().unwrap_or(3), minor.parse().unwrap_or(0));
            let mut params: Vec<(String, String)> = params.clone().unwrap_or_else(|| {
                vec![
                    ("user".into(), "postgres".into()),
                    ("database".into(), "postgres".into()),
                ]
            });
            if let Some(total) = pad_to {
                let base = StartupPacket::Startup(StartupMessage::new(version, &params))
                    .to_bytes()
                    .len();
                let overhead = "application_name".len() + 2;
                let fill = total.saturating_sub(base + overhead);
                params.push(("application_name".into(), "x".repeat(fill)));
            }
            let mut msg = StartupMessage::new(version, &params);
            if *no_terminator {
                msg.raw_parameters.pop();
            }
            let bytes = StartupPacket::Startup(msg).to_bytes();
            let len = bytes.len();
            (bytes, format!("StartupMessage({v}, {len} bytes)"))
        }
        PacketSpec::Cancel {
            pid,
            key_len,
            own,
            wrong_key,
        } => {
            let (pid, mut key) = match (key, own) {
                (Some((p, k)), true) => (*p, k.clone()),
                _ => (*pid, vec![0u8; *key_len]),
            };
            if *wrong_key && !key.is_empty() {
                key[0] ^= 0xFF;
            }
            let name = if *own {
                "CancelRequest(own key)".to_owned()
            } else {
                format!("CancelRequest(pid {pid}, {}-byte key)", key.len())
            };
            (
                StartupPacket::Cancel(CancelRequest::new(pid, &key)).to_bytes(),
                name,
            )
        }
        PacketSpec::SslRequestPadded { extra } => (
            StartupPacket::SslRequest {
                extra: vec![0; *extra],
            }
            .to_bytes(),
            format!("SSLRequest(+{extra} bytes)"),
        ),
        PacketSpec::Length { length, filler } => {
            let mut b = length.to_be_bytes().to_vec();
            b.extend(std::iter::repeat_n(0u8, *filler));
            (b, format!("length {length}"))
        }
        PacketSpec::Hex(hex) => {
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .filter_map(|i| {
                    hex.get(2 * i..2 * i + 2)
                        .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                })
                .collect();
            (bytes, format!("hex {hex}"))
        }
        PacketSpec::Text(text) => (text.as_bytes().to_vec(), format!("text {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> (Vec<u8>, String) {
        encode_one(&Packet::Named(name.into()), None)
    }

    fn detailed(spec: PacketSpec, key: Option<&CancelKey>) -> (Vec<u8>, String) {
        encode_one(&Packet::Detailed(spec), key)
    }

    /// A StartupMessage as the protocol defines it: length, version, NUL-terminated names and
    /// values, a final NUL.
    fn startup_bytes(major: u16, minor: u16, params: &[(&str, &str)], terminator: bool) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&major.to_be_bytes());
        body.extend_from_slice(&minor.to_be_bytes());
        for (k, v) in params {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        if terminator {
            body.push(0);
        }
        let mut out = (body.len() as u32 + 4).to_be_bytes().to_vec();
        out.extend(body);
        out
    }

    #[test]
    fn encryption_requests_are_eight_bytes_with_their_codes() {
        assert_eq!(
            named("ssl_request"),
            (
                vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
                "SSLRequest".into()
            )
        );
        assert_eq!(
            named("gssenc_request"),
            (
                vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30],
                "GSSENCRequest".into()
            )
        );
    }

    #[test]
    fn padded_ssl_request_keeps_its_code_and_grows_its_length() {
        assert_eq!(
            detailed(PacketSpec::SslRequestPadded { extra: 3 }, None),
            (
                vec![0, 0, 0, 11, 0x04, 0xd2, 0x16, 0x2f, 0, 0, 0],
                "SSLRequest(+3 bytes)".into()
            )
        );
    }

    #[test]
    fn the_default_startup_is_protocol_3_user_and_database_postgres() {
        let expected = startup_bytes(
            3,
            0,
            &[("user", "postgres"), ("database", "postgres")],
            true,
        );
        assert_eq!(expected.len(), 41);
        assert_eq!(
            named("startup"),
            (expected.clone(), "StartupMessage".into())
        );
        assert_eq!(default_startup().to_bytes(), expected);
    }

    #[test]
    fn startup_with_version_parameters_and_no_terminator() {
        let params = vec![
            ("user".to_owned(), "alice".to_owned()),
            ("options".to_owned(), "-c x=1".to_owned()),
        ];
        let spec = |no_terminator| PacketSpec::Startup {
            version: Some("3.2".into()),
            params: Some(params.clone()),
            no_terminator,
            pad_to: None,
        };
        let pairs = [("user", "alice"), ("options", "-c x=1")];
        let full = startup_bytes(3, 2, &pairs, true);
        assert_eq!(
            detailed(spec(false), None),
            (
                full.clone(),
                format!("StartupMessage(3.2, {} bytes)", full.len())
            )
        );
        let cut = startup_bytes(3, 2, &pairs, false);
        assert_eq!(cut.len(), full.len() - 1);
        assert_eq!(
            detailed(spec(true), None),
            (
                cut.clone(),
                format!("StartupMessage(3.2, {} bytes)", cut.len())
            )
        );
    }

    #[test]
    fn startup_version_without_minor_and_padding_to_a_size() {
        let (bytes, name) = detailed(
            PacketSpec::Startup {
                version: Some("1234".into()),
                params: None,
                no_terminator: false,
                pad_to: None,
            },
            None,
        );
        assert_eq!(&bytes[4..8], [0x04, 0xd2, 0, 0]);
        assert_eq!(name, "StartupMessage(1234, 41 bytes)");
        let (bytes, name) = detailed(
            PacketSpec::Startup {
                version: None,
                params: None,
                no_terminator: false,
                pad_to: Some(100),
            },
            None,
        );
        assert_eq!(bytes.len(), 100);
        assert_eq!(&bytes[..4], [0, 0, 0, 100]);
        // The default packet up to its terminator (after the length word), the name, 41 x's, two NULs.
        assert_eq!(
            bytes[4..40],
            startup_bytes(
                3,
                0,
                &[("user", "postgres"), ("database", "postgres")],
                true
            )[4..40]
        );
        assert_eq!(&bytes[40..57], b"application_name\0");
        assert!(bytes[57..98].iter().all(|b| *b == b'x'));
        assert_eq!(bytes[98..], [0, 0]);
        assert_eq!(name, "StartupMessage(3.0, 100 bytes)");
    }

    #[test]
    fn cancel_request_with_given_pid_and_key_length() {
        let (bytes, name) = detailed(
            PacketSpec::Cancel {
                pid: 0x0102_0304,
                key_len: 4,
                own: false,
                wrong_key: false,
            },
            None,
        );
        assert_eq!(
            bytes,
            [0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 1, 2, 3, 4, 0, 0, 0, 0]
        );
        assert_eq!(name, "CancelRequest(pid 16909060, 4-byte key)");
    }

    #[test]
    fn cancel_request_with_the_sessions_own_key_flipped() {
        let key: CancelKey = (7, vec![0xAA, 0xBB, 0xCC, 0xDD]);
        let own = |wrong_key| PacketSpec::Cancel {
            pid: 1,
            key_len: 0,
            own: true,
            wrong_key,
        };
        assert_eq!(
            detailed(own(false), Some(&key)),
            (
                vec![
                    0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 0xAA, 0xBB, 0xCC, 0xDD
                ],
                "CancelRequest(own key)".into()
            )
        );
        assert_eq!(
            detailed(own(true), Some(&key)).0[12..],
            [0x55, 0xBB, 0xCC, 0xDD]
        );
        // No session key yet: the given pid and a key of key_len zeros.
        assert_eq!(
            detailed(own(false), None).0,
            [0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1]
        );
    }

    #[test]
    fn terminate_and_query_messages() {
        assert_eq!(
            named("terminate"),
            (vec![b'X', 0, 0, 0, 4], "Terminate".into())
        );
        assert_eq!(
            named("query:SELECT 1"),
            (b"Q\0\0\0\x0dSELECT 1\0".to_vec(), "Query(SELECT 1)".into())
        );
        assert_eq!(
            named("hello"),
            (Vec::new(), "unknown packet \"hello\"".into())
        );
    }

    #[test]
    fn raw_length_hex_and_text() {
        assert_eq!(
            detailed(
                PacketSpec::Length {
                    length: 0x0001_0000,
                    filler: 2
                },
                None
            ),
            (vec![0, 1, 0, 0, 0, 0], "length 65536".into())
        );
        assert_eq!(
            detailed(PacketSpec::Hex("16030100ff".into()), None),
            (vec![0x16, 0x03, 0x01, 0x00, 0xff], "hex 16030100ff".into())
        );
        // A bad pair is skipped, an odd last digit dropped, non-ASCII does not panic.
        assert_eq!(detailed(PacketSpec::Hex("zz01f".into()), None).0, [1]);
        assert_eq!(
            detailed(PacketSpec::Hex("0é0".into()), None).0,
            Vec::<u8>::new()
        );
        assert_eq!(
            detailed(PacketSpec::Text("GET /".into()), None),
            (b"GET /".to_vec(), "text \"GET /\"".into())
        );
    }

    #[test]
    fn packets_of_a_step_are_concatenated_in_order() {
        let (bytes, names) = encode(
            &[
                Packet::Named("ssl_request".into()),
                Packet::Named("terminate".into()),
            ],
            None,
        );
        assert_eq!(
            bytes,
            [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f, b'X', 0, 0, 0, 4]
        );
        assert_eq!(names, ["SSLRequest", "Terminate"]);
    }
}
