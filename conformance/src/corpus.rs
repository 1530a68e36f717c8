//! Fuzz seeds from the catalogue: the client bytes of every case, in the layouts the `fuzz/`
//! targets read, so the corpora stay in step with the cases (`pgssl-conform corpus corpus/`).

use std::path::Path;

use pgssl_server::wire::frontend::{PacketFrame, frame_startup_packet};

use crate::case::{Case, Version};
use crate::client::written_bytes;
use crate::error::Error;

/// What `write` wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Files for `startup_packet`.
    pub startup_packet: usize,
    /// Files for `negotiate`.
    pub negotiate: usize,
}

/// Writes `DIR/startup_packet/case-*.bin` (every whole startup packet a case sends) and
/// `DIR/negotiate/case-*.bin` (a case's bytes behind the `negotiate` target's three-byte
/// header: profile and SSL from the case, TLS established with ALPN, one write per packet).
pub fn write(cases: &[Case], dir: &Path) -> Result<Written, Error> {
    let packets_dir = dir.join("startup_packet");
    let negotiate_dir = dir.join("negotiate");
    for d in [&packets_dir, &negotiate_dir] {
        std::fs::create_dir_all(d).map_err(|e| Error::io("creating", d, e))?;
    }
    let mut written = Written::default();
    for case in cases {
        let name = case.id.replace('/', "-");
        let writes = written_bytes(&case.steps);
        if writes.is_empty() {
            continue;
        }
        let mut n = 0;
        for bytes in &writes {
            let mut rest = bytes.as_slice();
            while let PacketFrame::Complete { total } = frame_startup_packet(rest) {
                let path = packets_dir.join(format!("case-{name}-{n}.bin"));
                std::fs::write(&path, &rest[..total])
                    .map_err(|e| Error::io("writing", &path, e))?;
                written.startup_packet += 1;
                n += 1;
                rest = &rest[total..];
            }
        }
        let ssl_off = case
            .setup
            .conf
            .iter()
            .any(|l| l.replace(' ', "") == "ssl=off");
        for version in Version::ALL.into_iter().filter(|v| case.applies_to(*v)) {
            let profile = fuzz_profile_byte(version);
            let mut seed = vec![profile | if ssl_off { 4 } else { 0 }, 0, 0];
            seed.extend(writes.iter().flatten());
            let path = negotiate_dir.join(format!("case-{name}-{version}.bin"));
            std::fs::write(&path, &seed).map_err(|e| Error::io("writing", &path, e))?;
            written.negotiate += 1;
        }
    }
    Ok(written)
}

/// The `negotiate` fuzz target's profile bits for `version` (fuzz/fuzz_targets/negotiate.rs:
/// bits 0-1 and 6-7 of the header's first byte; 0 seed, 1 PG 15, 2 PG 18 as before 13 to 17
/// existed, then 0x40 PG 13, 0x41 PG 14, 0x42 PG 16, 0x43 PG 17).
fn fuzz_profile_byte(version: Version) -> u8 {
    match version {
        Version::Seed => 0,
        Version::Pg15 => 1,
        Version::Pg18 => 2,
        Version::Pg13 => 0x40,
        Version::Pg14 => 0x41,
        Version::Pg16 => 0x42,
        Version::Pg17 => 0x43,
    }
}
