//! Where a request goes: the host and port a URI names, and the pool key they make.

use std::borrow::Cow;
use std::net::IpAddr;

use http::Uri;

use super::HttpError;

/// The origin of a request, borrowed from its URI.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// The host as written, without IPv6 brackets.
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// The pool key, `host:port` in lower case; borrowed from the URI when it is already
    /// written that way, which is the common case and costs no allocation.
    pub(crate) key: Cow<'a, str>,
    /// `Some` when the host is an IP literal, which needs no lookup.
    pub(crate) ip: Option<IpAddr>,
    /// The value of the `Host` header (the authority as written).
    pub(crate) authority: &'a str,
}

impl<'a> Target<'a> {
    pub(crate) fn from_uri(uri: &'a Uri) -> Result<Self, HttpError> {
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(HttpError::UnsupportedScheme {
                    scheme: other.into(),
                });
            }
            None => return Err(HttpError::invalid_uri("no scheme (expected http://)")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| HttpError::invalid_uri("no host"))?;
        let raw_host = authority.host();
        if raw_host.is_empty() {
            return Err(HttpError::invalid_uri("empty host"));
        }
        let host = raw_host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(raw_host);
        let as_written = authority.as_str();
        // `Authority::port` is `None` both for no port and for one that is not a `u16`
        // (`:99999`); the second must not silently become port 80.
        let port = match as_written
            .rsplit('@')
            .next()
            .and_then(|host_port| host_port.strip_prefix(raw_host))
            .and_then(|rest| rest.strip_prefix(':'))
        {
            None | Some("") => 80,
            Some(digits) => digits
                .parse()
                .map_err(|_| HttpError::invalid_uri("port out of range"))?,
        };
        let key = if authority.port().is_some()
            && !as_written.contains('@')
            && !as_written.bytes().any(|b| b.is_ascii_uppercase())
        {
            Cow::Borrowed(as_written)
        } else {
            Cow::Owned(format!("{}:{port}", raw_host.to_ascii_lowercase()))
        };
        Ok(Self {
            host,
            port,
            key,
            ip: host.parse().ok(),
            authority: as_written.rsplit('@').next().unwrap_or(as_written),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str) -> Result<(String, u16, String, Option<IpAddr>), HttpError> {
        let uri: Uri = uri.parse().expect("parses");
        let t = Target::from_uri(&uri)?;
        Ok((t.host.to_owned(), t.port, t.key.into_owned(), t.ip))
    }

    #[test]
    fn keys_are_host_and_port_in_lower_case() {
        let (host, port, key, ip) = target("http://Example.COM/a?b").unwrap();
        assert_eq!(
            (host.as_str(), port, key.as_str(), ip),
            ("Example.COM", 80, "example.com:80", None)
        );
        let (_, port, key, ip) = target("http://127.0.0.1:8080/").unwrap();
        assert_eq!((port, key.as_str()), (8080, "127.0.0.1:8080"));
        assert_eq!(ip, Some("127.0.0.1".parse().unwrap()));
        let (host, _, key, ip) = target("http://[::1]:81/").unwrap();
        assert_eq!((host.as_str(), key.as_str()), ("::1", "[::1]:81"));
        assert!(ip.is_some());
    }

    #[test]
    fn rejects_other_schemes_and_relative_uris() {
        assert!(matches!(
            target("https://example.com/"),
            Err(HttpError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            target("/just/a/path"),
            Err(HttpError::InvalidUri { .. })
        ));
    }

    #[test]
    fn a_port_out_of_range_is_an_error_not_port_80() {
        for uri in ["http://127.0.0.1:99999/", "http://user@example.com:65536/"] {
            assert!(
                matches!(target(uri), Err(HttpError::InvalidUri { .. })),
                "{uri}"
            );
        }
        // An empty port means the default one (RFC 3986).
        assert_eq!(target("http://example.com:/").unwrap().1, 80);
        assert_eq!(target("http://u:p@example.com:8080/").unwrap().1, 8080);
        assert_eq!(target("http://[::1]:65535/").unwrap().1, 65535);
    }
}
