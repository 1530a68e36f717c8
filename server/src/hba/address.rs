//! Address and mask fields: numeric hosts as `getaddrinfo(AI_NUMERICHOST)` reads them,
//! CIDR masks, and the prefix length of a contiguous mask.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `gai_strerror(EAI_NONAME)` on glibc, used for non-numeric addresses/masks.
pub(super) const EAI_NONAME_TEXT: &str = "Name or service not known";

/// glibc `inet_aton` syntax (what `getaddrinfo(AI_NUMERICHOST)` accepts):
/// 1-4 parts, each decimal, octal (`0` prefix) or hex (`0x`).
fn parse_ipv4_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(parts.len());
    for p in &parts {
        let v = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<u64>().ok()?
        };
        if v > u64::from(u32::MAX) {
            return None;
        }
        vals.push(v as u32);
    }
    let (last, head) = vals.split_last()?;
    let last_max: u64 = match head.len() {
        0 => 0xffff_ffff,
        1 => 0x00ff_ffff,
        2 => 0xffff,
        _ => 0xff,
    };
    if u64::from(*last) > last_max || head.iter().any(|v| *v > 0xff) {
        return None;
    }
    let mut n: u32 = 0;
    for (i, v) in head.iter().enumerate() {
        n |= v << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(n | last))
}

/// Numeric host as `getaddrinfo(AI_NUMERICHOST, AF_UNSPEC)` would accept it.
pub fn parse_numeric_host(s: &str) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4_aton(s) {
        return Some(IpAddr::V4(v4));
    }
    s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// `pg_sockaddr_cidr_mask`: `strtol` syntax, range 0..=32 / 0..=128.
pub(super) fn cidr_mask(bits: &str, v6: bool) -> Option<IpAddr> {
    let t = bits.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if bits.is_empty() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    if neg && n != 0 {
        return None;
    }
    if v6 {
        if n > 128 {
            return None;
        }
        let m: u128 = if n == 0 { 0 } else { u128::MAX << (128 - n) };
        Some(IpAddr::V6(Ipv6Addr::from(m)))
    } else {
        if n > 32 {
            return None;
        }
        let m: u32 = if n == 0 { 0 } else { u32::MAX << (32 - n) };
        Some(IpAddr::V4(Ipv4Addr::from(m)))
    }
}

/// Prefix length if `mask` is contiguous ones followed by zeros.
pub fn mask_prefix_len(mask: IpAddr) -> Option<u32> {
    match mask {
        IpAddr::V4(m) => {
            let v = u32::from(m);
            let len = v.leading_ones();
            (v.checked_shl(len).unwrap_or(0) == 0).then_some(len)
        }
        IpAddr::V6(m) => {
            let v = u128::from(m);
            let len = v.leading_ones();
            (v.checked_shl(len).unwrap_or(0) == 0).then_some(len)
        }
    }
}

#[cfg(test)]
mod tests;
