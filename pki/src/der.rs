//! A minimal DER writer, for the structures tests build by hand because OpenSSL will not
//! make them as wanted (CRLs with a chosen version, dates, entry extensions or signature).

/// One TLV: `tag`, the definite length of `body` (short or long form), then `body`.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(body);
    out
}

/// A non-negative INTEGER from its big-endian magnitude (leading zeros dropped, one added
/// where the top bit would make it negative).
pub fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let mut bytes: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    if bytes.first().is_none_or(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    tlv(0x02, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers() {
        assert_eq!(tlv(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        let long = tlv(0x30, &[0; 300]);
        assert_eq!(long[..4], [0x30, 0x82, 0x01, 0x2C]);
        assert_eq!(unsigned_integer(&[]), [0x02, 1, 0]);
        assert_eq!(unsigned_integer(&[0, 0, 0x80]), [0x02, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0x7F]), [0x02, 1, 0x7F]);
    }
}
