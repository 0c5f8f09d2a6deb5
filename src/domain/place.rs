//! Where a stack lives: an AWS account and Region. Plain, validated values; the console
//! links and the org-wide (hub) mode are built from them.

/// An AWS Region code (`us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

/// The Regions that exist as of this release, for telling a typo from a Region.
const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// A value that does not have the shape of a Region code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{:?} is not a Region code; write it like us-east-1 or eu-west-2",
    crate::text::preview(.value, 40)
)]
pub struct InvalidRegion {
    /// The value as given, trimmed.
    pub value: String,
}

impl Region {
    /// Accepts what has the shape of a Region code: two lowercase letters, one or more
    /// lowercase words, then a number (`us-east-1`, `us-gov-west-1`).
    pub fn parse(value: &str) -> Result<Region, InvalidRegion> {
        let value = value.trim();
        let mut parts = value.split('-');
        let first = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let letters =
            |part: &&str| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase());
        let shaped = match rest.split_last() {
            Some((number, words)) => {
                first.len() == 2
                    && letters(&first)
                    && !words.is_empty()
                    && words.iter().all(letters)
                    && (1..=2).contains(&number.len())
                    && number.chars().all(|c| c.is_ascii_digit())
            }
            None => false,
        };
        if shaped {
            Ok(Region(value.to_owned()))
        } else {
            Err(InvalidRegion {
                value: value.to_owned(),
            })
        }
    }

    /// A Region this release knows exists (a well-shaped typo such as `us-eats-1` is not).
    pub fn is_known(&self) -> bool {
        KNOWN_REGIONS.contains(&self.0.as_str())
    }

    pub fn known() -> &'static [&'static str] {
        KNOWN_REGIONS
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition's ARN prefix: `aws`, `aws-cn` or `aws-us-gov`.
    pub fn partition(&self) -> &'static str {
        if self.0.starts_with("cn-") {
            "aws-cn"
        } else if self.0.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    /// The AWS console's host for this Region, in its partition.
    pub fn console_host(&self) -> String {
        let region = &self.0;
        match self.partition() {
            "aws-cn" => format!("{region}.console.amazonaws.cn"),
            "aws-us-gov" => format!("{region}.console.amazonaws-us-gov.com"),
            _ => format!("{region}.console.aws.amazon.com"),
        }
    }
}

impl TryFrom<String> for Region {
    type Error = InvalidRegion;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Region::parse(&value)
    }
}

impl From<Region> for String {
    fn from(value: Region) -> Self {
        value.0
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

/// A value that is not a 12-digit account id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{:?} is not an AWS account id; an account id is 12 digits, like 123456789012",
    crate::text::preview(.value, 40)
)]
pub struct InvalidAccountId {
    /// The value as given, trimmed.
    pub value: String,
}

impl AccountId {
    pub fn parse(value: &str) -> Result<AccountId, InvalidAccountId> {
        let value = value.trim();
        if value.len() == 12 && value.chars().all(|c| c.is_ascii_digit()) {
            Ok(AccountId(value.to_owned()))
        } else {
            Err(InvalidAccountId {
                value: value.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = InvalidAccountId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountId::parse(&value)
    }
}

impl From<AccountId> for String {
    fn from(value: AccountId) -> Self {
        value.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_recognised_by_shape() {
        for region in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-5",
            "us-gov-west-1",
            "cn-north-1",
        ] {
            let parsed = Region::parse(region).unwrap();
            assert_eq!(parsed.as_str(), region);
            assert!(parsed.is_known(), "{region}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-123",
            "us east-1",
            "../x-y-1",
        ] {
            let error = Region::parse(bad).unwrap_err().to_string();
            assert!(error.contains("like us-east-1"), "{bad:?}: {error}");
        }
        assert!(!Region::parse("us-eats-1").unwrap().is_known());
    }

    #[test]
    fn partitions_and_console_hosts() {
        let host = |region: &str| Region::parse(region).unwrap().console_host();
        assert_eq!(host("eu-west-1"), "eu-west-1.console.aws.amazon.com");
        assert_eq!(host("cn-north-1"), "cn-north-1.console.amazonaws.cn");
        assert_eq!(
            host("us-gov-west-1"),
            "us-gov-west-1.console.amazonaws-us-gov.com"
        );
        assert_eq!(Region::parse("cn-north-1").unwrap().partition(), "aws-cn");
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert_eq!(
            AccountId::parse(" 123456789012 ").unwrap().as_str(),
            "123456789012"
        );
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert!(
                AccountId::parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("12 digits")
            );
        }
    }
}
