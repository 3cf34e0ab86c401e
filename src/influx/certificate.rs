//! The fields of an X.509 certificate the trust check reads itself: its validity
//! period, and its subject CN with whether it has a subjectAltName extension.
//!
//! rustls checks the dates and names of every certificate it accepts, but a pinned
//! server certificate is accepted after rustls refused it (a self-signed `CA:TRUE`
//! one, as InfluxDB's HTTPS guide makes), and rustls does not hand out the dates it
//! read, nor read the CN, which the guide's recipe is the only name of.

use crate::core::window::{parse_time_ns, TimeTextError};

/// DER tags read on the way to the validity period.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT Version`, present in every v3 certificate.
const VERSION: u8 = 0xa0;
/// `[3] EXPLICIT Extensions`.
const EXTENSIONS: u8 = 0xa3;
const OID: u8 = 0x06;
const SET: u8 = 0x31;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The content octets of the OIDs read: `id-at-commonName` (2.5.4.3) and
/// `id-ce-subjectAltName` (2.5.29.17).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// The string types a CN is read from: UTF8String, PrintableString, IA5String.
const CN_STRINGS: [u8; 3] = [0x0c, 0x13, 0x16];

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
    let (validity, _) = expect(from_validity(der)?, SEQUENCE)?;
    let (before_tag, before, rest) = tlv(validity)?;
    let (after_tag, after, _) = tlv(rest)?;
    Some(Validity {
        not_before: time_ns(before_tag, before)?,
        not_after: time_ns(after_tag, after)?,
    })
}

/// How a certificate names its subject, as far as a host name check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubjectNames {
    /// The subject's CN, when there is exactly one and it is a plain string.
    pub common_name: Option<String>,
    /// Whether the certificate has a subjectAltName extension (whatever it lists).
    pub has_alt_names: bool,
}

/// Reads the subject CN of a DER certificate and whether it has a subjectAltName;
/// `None` when the bytes are not an X.509 certificate.
pub(crate) fn subject_names(der: &[u8]) -> Option<SubjectNames> {
    let (_validity, rest) = expect(from_validity(der)?, SEQUENCE)?;
    let (subject, rest) = expect(rest, SEQUENCE)?;
    let (_key, mut rest) = expect(rest, SEQUENCE)?;
    let mut has_alt_names = false;
    // Optional issuerUniqueID [1], subjectUniqueID [2], extensions [3].
    while !rest.is_empty() {
        let (tag, content, next) = tlv(rest)?;
        if tag == EXTENSIONS {
            has_alt_names = has_extension(content, SUBJECT_ALT_NAME)?;
        }
        rest = next;
    }
    Some(SubjectNames {
        common_name: common_name(subject)?,
        has_alt_names,
    })
}

/// The TBSCertificate fields from `validity` on.
fn from_validity(der: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let (tag, _, after_version) = tlv(tbs)?;
    let rest = if tag == VERSION { after_version } else { tbs };
    let (_serial, rest) = expect(rest, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    Some(rest)
}

/// Whether the `[3] EXPLICIT` extensions list one with this OID; `None` when
/// malformed.
fn has_extension(explicit: &[u8], oid: &[u8]) -> Option<bool> {
    let (mut list, _) = expect(explicit, SEQUENCE)?;
    while !list.is_empty() {
        let (extension, next) = expect(list, SEQUENCE)?;
        let (id, _) = expect(extension, OID)?;
        if id == oid {
            return Some(true);
        }
        list = next;
    }
    Some(false)
}

/// The CN of a Name's content (RDN sets of type-value pairs): `Some(None)` when there
/// is none, several (which one names the host would be a guess) or one in another
/// string type; `None` when malformed.
fn common_name(name: &[u8]) -> Option<Option<String>> {
    let mut found = Vec::new();
    let mut rdns = name;
    while !rdns.is_empty() {
        let (mut set, next) = expect(rdns, SET)?;
        while !set.is_empty() {
            let (pair, after) = expect(set, SEQUENCE)?;
            let (id, value) = expect(pair, OID)?;
            if id == COMMON_NAME {
                let (tag, text, _) = tlv(value)?;
                found.push(CN_STRINGS.contains(&tag).then_some(text));
            }
            set = after;
        }
        rdns = next;
    }
    Some(match found.as_slice() {
        [Some(text)] => std::str::from_utf8(text).ok().map(str::to_string),
        _ => None,
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

    /// The guide's recipe names the host only in its CN; with `-addext
    /// subjectAltName=...` the certificate has the extension besides the CN.
    #[test]
    fn reads_the_subject_names_of_openssl_certificates() {
        let guide = CertificateDer::from_pem_slice(GUIDE_PEM.as_bytes()).unwrap();
        let names = subject_names(&guide).unwrap();
        assert_eq!(names.common_name.as_deref(), Some("localhost"));
        assert!(!names.has_alt_names);
        let with_san = include_str!("testdata/localhost-selfsigned.pem");
        let der = CertificateDer::from_pem_slice(with_san.as_bytes()).unwrap();
        let names = subject_names(&der).unwrap();
        assert_eq!(names.common_name.as_deref(), Some("localhost"));
        assert!(names.has_alt_names);
        assert_eq!(subject_names(&guide[..200]), None);
    }

    /// Of a Name, only a single CN in a plain string type is read; other attributes
    /// are skipped, and bytes that are not a Name are refused.
    #[test]
    fn common_names() {
        let attr = |oid: &[u8], tag: u8, text: &str| {
            let mut pair = vec![OID, oid.len() as u8];
            pair.extend(oid);
            pair.extend([tag, text.len() as u8]);
            pair.extend(text.as_bytes());
            let mut set = vec![SET, pair.len() as u8 + 2, SEQUENCE, pair.len() as u8];
            set.extend(pair);
            set
        };
        let org = attr(&[0x55, 0x04, 0x0a], 0x0c, "Example");
        let cn = |tag, text| attr(COMMON_NAME, tag, text);
        let name = [org.clone(), cn(0x13, "db.example")].concat();
        assert_eq!(common_name(&name), Some(Some("db.example".into())));
        assert_eq!(common_name(&cn(0x0c, "host")), Some(Some("host".into())));
        assert_eq!(common_name(&cn(0x16, "host")), Some(Some("host".into())));
        assert_eq!(common_name(&org), Some(None));
        assert_eq!(common_name(&cn(0x1e, "xx")), Some(None));
        let two = [cn(0x13, "a.example"), cn(0x13, "b.example")].concat();
        assert_eq!(common_name(&two), Some(None));
        assert_eq!(common_name(&[SEQUENCE, 0x00]), None);
        assert_eq!(common_name(&name[..name.len() - 1]), None);
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
