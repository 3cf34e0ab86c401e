//! The one field of an X.509 certificate the trust check reads itself: its validity
//! period.
//!
//! rustls checks the dates of every certificate it accepts, but a pinned server
//! certificate is accepted after rustls refused it (a self-signed `CA:TRUE` one, as
//! InfluxDB's HTTPS guide makes), and rustls does not hand out the dates it read.

use crate::core::window::{parse_time_ns, TimeTextError};

/// DER tags read on the way to the validity period.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT Version`, present in every v3 certificate.
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// When a certificate is valid, in nanoseconds since the epoch, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    /// `notBefore` (`i64::MIN` when before 1970).
    pub not_before: i64,
    /// `notAfter` (`i64::MAX` when after 2262).
    pub not_after: i64,
}

impl Validity {
    /// Whether the certificate is valid at `t`.
    pub fn contains(&self, t: i64) -> bool {
        self.not_before <= t && t <= self.not_after
    }
}

/// Reads the validity period of a DER certificate; `None` when the bytes are not an
/// X.509 certificate.
pub(crate) fn validity(der: &[u8]) -> Option<Validity> {
    let (certificate, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let (tag, _, after_version) = tlv(tbs)?;
    let rest = if tag == VERSION { after_version } else { tbs };
    let (_serial, rest) = expect(rest, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, _) = expect(rest, SEQUENCE)?;
    let (before_tag, before, rest) = tlv(validity)?;
    let (after_tag, after, _) = tlv(rest)?;
    Some(Validity {
        not_before: time_ns(before_tag, before)?,
        not_after: time_ns(after_tag, after)?,
    })
}

/// One DER element: its tag, its content and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form: the low bits count the length bytes that follow (at most 4 here).
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The element at the start of `input`, which must have tag `tag`: its content and
/// what follows it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = tlv(input)?;
    (t == tag).then_some((content, rest))
}

/// A `UTCTime` (`YYMMDDHHMMSSZ`, years 1950..2049) or `GeneralizedTime`
/// (`YYYYMMDDHHMMSSZ`) in nanoseconds since the epoch, clamped to the i64 range.
fn time_ns(tag: u8, content: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(content).ok()?;
    let digits = text.strip_suffix('Z')?;
    let full = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy: u32 = digits[..2].parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{digits}")
        }
        (GENERALIZED_TIME, 14) => digits.to_string(),
        _ => return None,
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if &full[..4] < "1970" {
        return Some(i64::MIN);
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    match parse_time_ns(&rfc3339) {
        Ok(ns) => Some(ns),
        Err(TimeTextError::BeforeEpoch) => Some(i64::MIN),
        Err(TimeTextError::TooLate) => Some(i64::MAX),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{pem::PemObject, CertificateDer};

    /// Made by `openssl req -x509 -nodes -newkey rsa:2048 -days 30 -subj /CN=localhost`
    /// (InfluxDB's HTTPS guide); `openssl x509 -dates` prints
    /// notBefore=Nov 22 02:26:49 2026 GMT, notAfter=Dec 22 02:26:49 2026 GMT.
    const GUIDE_PEM: &str = include_str!("testdata/guide-selfsigned.pem");

    /// The dates of a certificate made by the guide's recipe are read as openssl
    /// prints them.
    #[test]
    fn reads_the_validity_of_an_openssl_certificate() {
        let der = CertificateDer::from_pem_slice(GUIDE_PEM.as_bytes()).unwrap();
        let v = validity(&der).unwrap();
        assert_eq!(v.not_before, parse_time_ns("2026-11-22T02:26:49Z").unwrap());
        assert_eq!(v.not_after, parse_time_ns("2026-12-22T02:26:49Z").unwrap());
        assert!(v.contains(parse_time_ns("2026-12-01").unwrap()));
        assert!(!v.contains(parse_time_ns("2026-12-23").unwrap()));
        assert!(!v.contains(parse_time_ns("2026-11-22").unwrap()));
    }

    /// Both ASN.1 time forms are read, with the UTCTime century rule and the ends of
    /// the i64 range for dates outside it.
    #[test]
    fn time_forms() {
        let t = |tag, s: &str| time_ns(tag, s.as_bytes());
        let ns = |s| Some(parse_time_ns(s).unwrap());
        assert_eq!(t(UTC_TIME, "250101000000Z"), ns("2025-01-01T00:00:00Z"));
        assert_eq!(t(UTC_TIME, "991231235959Z"), ns("1999-12-31T23:59:59Z"));
        assert_eq!(t(UTC_TIME, "500101000000Z"), Some(i64::MIN));
        assert_eq!(
            t(GENERALIZED_TIME, "20250101120000Z"),
            ns("2025-01-01T12:00:00Z")
        );
        assert_eq!(t(GENERALIZED_TIME, "99991231235959Z"), Some(i64::MAX));
        assert_eq!(t(UTC_TIME, "250101000000"), None);
        assert_eq!(t(GENERALIZED_TIME, "250101000000Z"), None);
        assert_eq!(t(UTC_TIME, "25a101000000Z"), None);
    }

    /// Bytes that are not a certificate, or are cut short, give no period.
    #[test]
    fn not_a_certificate() {
        let der = CertificateDer::from_pem_slice(GUIDE_PEM.as_bytes()).unwrap();
        assert_eq!(validity(&der[..40]), None);
        assert_eq!(validity(b""), None);
        assert_eq!(validity(&[0x30, 0x82, 0xff]), None);
        assert_eq!(validity(&[0x02, 0x01, 0x00]), None);
    }
}
