//! A refused TLS handshake in words an operator can act on: what was wrong with the
//! server's certificate and which setting fixes it.

use crate::core::window::format_ns;
use rustls::pki_types::UnixTime;
use rustls::{CertificateError, Error};

/// Which side of the copy a server is, so that a TLS error names the settings of that
/// side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Side {
    /// The server read from (`--ca-file`, `source.*`).
    Source,
    /// The server written to by a cross-server copy (`--target-ca-file`, `target.*`).
    Target,
    /// Not known: the error names both sides' settings.
    #[default]
    Unnamed,
}

impl Side {
    /// The flag and config key of this side's CA file.
    fn ca_file(self) -> &'static str {
        match self {
            Side::Source => "--ca-file / source.ca_file",
            Side::Target => "--target-ca-file / target.ca_file",
            Side::Unnamed => "--ca-file / source.ca_file (--target-ca-file / target.ca_file)",
        }
    }

    /// The flag and config key of this side's URL.
    fn url(self) -> &'static str {
        match self {
            Side::Source => "--source-url / source.url",
            Side::Target => "--target-url / target.url",
            Side::Unnamed => "--source-url / source.url (--target-url / target.url)",
        }
    }
}

/// What was wrong and what fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// What was wrong, in words.
    pub problem: String,
    /// The setting (or the certificate change) that fixes it.
    pub fix: String,
}

/// Words for a TLS error of the server on `side`.
pub(crate) fn describe(e: &Error, side: Side) -> Refusal {
    let refusal = |problem: String, fix: String| Refusal { problem, fix };
    let ca = side.ca_file();
    let cert = match e {
        Error::InvalidCertificate(c) => c,
        other => {
            return refusal(
                format!("the TLS handshake failed ({other})"),
                format!("check that {} is the server's https address", side.url()),
            )
        }
    };
    match cert {
        CertificateError::UnknownIssuer => refusal(
            "its certificate has an untrusted issuer (self-signed or a private CA)".into(),
            format!("give the server's own certificate or the CA that signed it with {ca}"),
        ),
        CertificateError::NotValidForName => refusal(
            "its certificate is for another host name".into(),
            name_fix(side),
        ),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => refusal(name_mismatch(&expected.to_str(), presented), name_fix(side)),
        CertificateError::Expired => refusal(
            "its certificate has expired".into(),
            "renew the server's certificate (https-certificate)".into(),
        ),
        CertificateError::ExpiredContext { not_after, .. } => refusal(
            format!("its certificate expired at {}", time(*not_after)),
            "renew the server's certificate (https-certificate)".into(),
        ),
        CertificateError::NotValidYet => refusal(
            "its certificate is not valid yet".into(),
            "check this machine's clock or reissue the certificate".into(),
        ),
        CertificateError::NotValidYetContext { not_before, .. } => refusal(
            format!("its certificate is not valid before {}", time(*not_before)),
            "check this machine's clock or reissue the certificate".into(),
        ),
        CertificateError::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => refusal(
            "it uses an untrusted CA certificate (CA:TRUE, as `openssl req -x509` makes) as \
             its own server certificate"
                .into(),
            format!("give that very certificate (the server's https-certificate) with {ca}"),
        ),
        CertificateError::BadSignature => refusal(
            "its certificate's signature does not verify".into(),
            format!("check that {ca} holds the CA that signed it"),
        ),
        other => refusal(
            format!("its certificate is refused ({other})"),
            format!("check the server's certificate and {ca}"),
        ),
    }
}

/// The host asked for and the names the certificate lists.
fn name_mismatch(expected: &str, presented: &[String]) -> String {
    if presented.is_empty() {
        return format!(
            "host name mismatch: its certificate lists no subjectAltName, so it is not \
             valid for {expected} (the CN is read only from a certificate that is itself \
             in the CA file)"
        );
    }
    let names: Vec<&str> = presented.iter().map(|p| plain_name(p)).collect();
    let by_cn = presented.iter().any(|p| p.starts_with(COMMON_NAME));
    let source = if by_cn {
        " (its CN; it has no subjectAltName)"
    } else {
        ""
    };
    format!(
        "host name mismatch: its certificate is for {}{source}, not {expected}",
        names.join(", ")
    )
}

/// How the trust check presents the CN it compared (WebPKI presents subjectAltNames).
const COMMON_NAME: &str = "CommonName(";

/// `otherhost` out of WebPKI's `DnsName("otherhost")` or the trust check's
/// `CommonName("otherhost")`, `127.0.0.1` out of `IpAddress(127.0.0.1)`; anything
/// else as it is.
fn plain_name(presented: &str) -> &str {
    let inner = ["DnsName(", "IpAddress(", COMMON_NAME]
        .iter()
        .find_map(|kind| presented.strip_prefix(kind)?.strip_suffix(')'));
    inner.map_or(presented, |n| n.trim_matches('"'))
}

fn name_fix(side: Side) -> String {
    format!(
        "use a host name the certificate lists in {} or reissue the certificate with \
         -addext subjectAltName=DNS:<host>,IP:<address>",
        side.url()
    )
}

fn time(t: UnixTime) -> String {
    let ns = i64::try_from(u128::from(t.as_secs()) * 1_000_000_000).unwrap_or(i64::MAX);
    format_ns(ns)
}

/// The rustls error inside a transport error's chain, if TLS refused the connection.
pub(crate) fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    let mut cur = Some(e);
    while let Some(mut err) = cur {
        // `io::Error::source` skips the error it wraps (hyper-rustls wraps the rustls
        // error in an io::Error, hyper-util that in another): look inside instead.
        while let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            err = inner;
        }
        if let Some(tls) = err.downcast_ref::<Error>() {
            return Some(tls);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::OtherError;
    use std::sync::Arc;
    use std::time::Duration;

    fn line(e: Error, side: Side) -> String {
        let r = describe(&e, side);
        format!("{}; {}", r.problem, r.fix)
    }

    #[derive(Debug)]
    struct CaUsedAsEndEntity;
    impl std::fmt::Display for CaUsedAsEndEntity {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("CaUsedAsEndEntity")
        }
    }
    impl std::error::Error for CaUsedAsEndEntity {}

    /// Each refusal an operator meets says what was wrong in words and names the
    /// setting of the right side that fixes it.
    #[test]
    fn refusals_in_words() {
        let cert = Error::InvalidCertificate;
        let s = line(cert(CertificateError::UnknownIssuer), Side::Source);
        assert!(s.contains("untrusted issuer"), "{s}");
        assert!(s.contains("--ca-file / source.ca_file"), "{s}");
        let t = line(cert(CertificateError::UnknownIssuer), Side::Target);
        assert!(t.contains("--target-ca-file / target.ca_file"), "{t}");
        assert!(!t.contains("source."), "{t}");

        let mismatch = cert(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("localhost").unwrap(),
            presented: vec![
                "DnsName(\"otherhost\")".into(),
                "IpAddress(10.0.0.7)".into(),
            ],
        });
        let m = line(mismatch, Side::Source);
        assert!(
            m.contains("host name mismatch") && m.contains("not localhost"),
            "{m}"
        );
        assert!(m.contains("is for otherhost, 10.0.0.7, not"), "{m}");
        assert!(m.contains("source.url"), "{m}");
        let nameless = cert(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("127.0.0.1").unwrap(),
            presented: vec![],
        });
        let n = line(nameless, Side::Target);
        let by_cn = cert(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("localhost").unwrap(),
            presented: vec!["CommonName(\"otherhost\")".into()],
        });
        let b = line(by_cn, Side::Source);
        assert!(
            b.contains("is for otherhost (its CN; it has no subjectAltName), not localhost"),
            "{b}"
        );
        assert!(
            n.contains("no subjectAltName") && n.contains("127.0.0.1"),
            "{n}"
        );
        assert!(n.contains("subjectAltName=DNS:"), "{n}");

        let expired = cert(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
        });
        let x = line(expired, Side::Source);
        assert!(x.contains("expired at 2023-11-14T22:13:20Z"), "{x}");
        assert!(x.contains("renew"), "{x}");

        let ca = cert(CertificateError::Other(OtherError(Arc::new(
            CaUsedAsEndEntity,
        ))));
        let c = line(ca, Side::Source);
        assert!(c.contains("CA certificate (CA:TRUE"), "{c}");
        assert!(c.contains("--ca-file / source.ca_file"), "{c}");

        let u = line(cert(CertificateError::UnknownIssuer), Side::Unnamed);
        assert!(
            u.contains("source.ca_file") && u.contains("target.ca_file"),
            "{u}"
        );
        let h = line(Error::DecryptError, Side::Source);
        assert!(
            h.contains("handshake failed") && h.contains("source.url"),
            "{h}"
        );
        for text in [s, t, m, n, b, x, c, u, h] {
            assert!(!text.contains('\n'), "{text}");
        }
    }

    /// The rustls error is found inside an `io::Error` inside an `io::Error`, as
    /// hyper-rustls and hyper-util wrap it.
    #[test]
    fn finds_the_tls_error_in_the_chain() {
        let io = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            Error::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        assert_eq!(
            tls_error(&io),
            Some(&Error::InvalidCertificate(CertificateError::UnknownIssuer))
        );
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(tls_error(&plain), None);
    }
}
