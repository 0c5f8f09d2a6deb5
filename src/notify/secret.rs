//! Credentials of destinations, which must never be printed: webhook URLs (Slack's path is
//! the key), Standard Webhooks signing secrets, bot tokens and routing keys. `Debug` and
//! `Display` show only what helps an operator (a URL's scheme and host), never the secret.

use std::fmt;

use base64::Engine as _;

/// Why a value is not a webhook URL. It holds the value only [`mask`]ed: where it
/// points, never its secret part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUrl {
    #[error("{masked} is not a URL ({source}); expected https://host/path")]
    NotAUrl {
        masked: String,
        source: url::ParseError,
    },
    #[error(
        "{masked} uses {scheme}; webhook URLs must be https:// (http:// is allowed only for localhost and 127.0.0.1)"
    )]
    Scheme { masked: String, scheme: String },
}

/// A webhook URL. `Debug` and `Display` show the scheme and host only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(reqwest::Url);

impl SecretUrl {
    /// Accepts `https` URLs, and `http` only for loopback hosts (local testing).
    pub fn parse(value: &str) -> Result<Self, InvalidUrl> {
        let url = reqwest::Url::parse(value.trim()).map_err(|source| InvalidUrl::NotAUrl {
            masked: mask(value),
            source,
        })?;
        let loopback = match url.host() {
            Some(url::Host::Domain(domain)) => domain == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" if url.host().is_some() => Ok(SecretUrl(url)),
            "http" if loopback => Ok(SecretUrl(url)),
            scheme => Err(InvalidUrl::Scheme {
                masked: mask(value),
                scheme: scheme.to_owned(),
            }),
        }
    }

    pub fn expose(&self) -> &reqwest::Url {
        &self.0
    }

    /// The host, which is no secret and tells people where it points.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}/…", self.0.scheme(), self.host())
    }
}

/// Shows where a rejected URL points without showing its secret part.
pub fn mask(value: &str) -> String {
    match reqwest::Url::parse(value.trim()) {
        Ok(url) => format!("\"{}://{}/…\"", url.scheme(), url.host_str().unwrap_or("")),
        Err(_) => format!("a value of {} characters", value.chars().count()),
    }
}

/// A Standard Webhooks signing secret (`whsec_` + base64 of the key). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

/// How to make a signing secret, said with every [`InvalidSigningSecret`].
const SIGNING_SECRET_FIX: &str = "expected whsec_ followed by base64 of a random key of 24 to 64 bytes, e.g. whsec_$(openssl rand -base64 32)";

/// Why a value is not a signing secret. It holds nothing of the value but its length in
/// bytes (base64's own error, which quotes the offending byte, is dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSigningSecret {
    #[error("the value does not start with whsec_; {SIGNING_SECRET_FIX}")]
    Prefix,
    #[error("the part after whsec_ is not valid base64; {SIGNING_SECRET_FIX}")]
    Base64,
    #[error("the key is {bytes} bytes long; {SIGNING_SECRET_FIX}")]
    Length { bytes: usize },
}

impl SigningSecret {
    pub fn parse(value: &str) -> Result<Self, InvalidSigningSecret> {
        let Some(encoded) = value.trim().strip_prefix("whsec_") else {
            return Err(InvalidSigningSecret::Prefix);
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| InvalidSigningSecret::Base64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(InvalidSigningSecret::Length { bytes: key.len() });
        }
        Ok(SigningSecret(key))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(redacted)")
    }
}

/// A token or key (a Slack bot token, a PagerDuty routing key). `Debug` and `Display`
/// show its kind and length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    pub fn new(value: impl Into<String>) -> SecretToken {
        SecretToken(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretToken({self})")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(secret of {} characters)", self.0.chars().count())
    }
}

/// Quotes a value for a message, unless it may be a secret (a URL, a token, or anything
/// long).
pub fn quote(value: &str) -> String {
    let secret_like = value.contains("://")
        || value.contains("whsec_")
        || value.starts_with("xox")
        || value.chars().count() > 40;
    if secret_like {
        format!("(a value of {} characters)", value.chars().count())
    } else {
        format!("{:?}", crate::text::single_line(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_never_repeats_what_may_be_a_secret() {
        assert_eq!(quote("slak"), "\"slak\"");
        assert_eq!(
            quote("https://hooks.slack.com/services/T/B/SECRET"),
            "(a value of 43 characters)"
        );
        assert!(!quote("whsec_abc").contains("abc"));
        assert!(!quote("xoxb-123").contains("123"));
    }

    #[test]
    fn errors_never_hold_the_secret_in_display_or_debug() {
        let url = SecretUrl::parse("http://example.com/services/SECRET").unwrap_err();
        let not_a_url = SecretUrl::parse("hooks.slack.com/services/SECRET").unwrap_err();
        let signing = SigningSecret::parse("whsec_SECRET!!").unwrap_err();
        let short = SigningSecret::parse("whsec_U0VDUkVU").unwrap_err();
        for shown in [
            format!("{url} {url:?}"),
            format!("{not_a_url} {not_a_url:?}"),
            format!("{signing} {signing:?}"),
            format!("{short} {short:?}"),
        ] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(!shown.contains("U0VDUkVU"), "{shown}");
        }
    }

    #[test]
    fn tokens_never_print() {
        let token = SecretToken::new("xoxb-1234-SECRET");
        assert!(!format!("{token:?} {token}").contains("SECRET"));
    }
}
