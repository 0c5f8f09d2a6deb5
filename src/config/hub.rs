//! Org-wide (hub) mode's variables (ARCHITECTURE §12): `TARGET_ACCOUNTS`,
//! `TARGET_REGIONS` and `MEMBER_ROLE_NAME`, read into a [`Hub`] or refused with the
//! variable and the fix, like every other variable.
//!
//! Hub mode is off unless `TARGET_ACCOUNTS` is set (an empty value is unset, as the
//! template always sets it). The other two belong to it: set alone, they are a mistake
//! worth saying, not something to ignore.

use super::{Problem, Watch, summarise};
use crate::domain::{AccountId, InvalidRegion, Region};

/// Which accounts a hub watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetAccounts {
    /// `*`: every `ACTIVE` account of the organization (`organizations:ListAccounts`).
    Organization,
    /// These accounts, in the order given, without repeats.
    List(Vec<AccountId>),
}

/// A value that is not an IAM role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{:?} is not an IAM role name; use 1-64 letters, digits and + = , . @ _ -, the MemberRoleName given to templates/member-role.yaml",
    crate::text::preview(.value, 80)
)]
pub struct InvalidRoleName {
    /// The value as given, trimmed.
    pub value: String,
}

/// The read role assumed in every member account: an IAM role name (1–64 of letters,
/// digits and `+=,.@_-`), so the ARN built from it is always well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    pub const DEFAULT: &'static str = "SyncNotifierReadRole";

    pub fn parse(value: &str) -> Result<RoleName, InvalidRoleName> {
        let value = value.trim();
        let valid = (1..=64).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if valid {
            Ok(RoleName(value.to_owned()))
        } else {
            Err(InvalidRoleName {
                value: value.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RoleName {
    fn default() -> Self {
        RoleName(Self::DEFAULT.to_owned())
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a hub watches: these accounts, in these Regions, through this role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    pub accounts: TargetAccounts,
    /// `TARGET_REGIONS`, without repeats; `None`: the function's own Region.
    pub regions: Option<Vec<Region>>,
    pub role_name: RoleName,
}

/// Reads the hub variables. `lookup` gives raw values (an empty `MEMBER_ROLE_NAME` is a
/// mistake, not the default); `watch` is what `WATCH_RESOURCES` asked for.
pub(super) fn parse(
    lookup: &impl Fn(&str) -> Option<String>,
    watch: &Watch,
    problems: &mut Vec<Problem>,
) -> Option<Hub> {
    let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let mut problem = |variable: &'static str, message: String| {
        problems.push(Problem {
            variable,
            path: String::new(),
            message,
        })
    };
    let Some(accounts) = get("TARGET_ACCOUNTS") else {
        // Single-account mode: the hub's other variables would be silently ignored.
        for variable in ["TARGET_REGIONS", "MEMBER_ROLE_NAME"] {
            if get(variable).is_some() {
                problem(
                    variable,
                    "is set, but TARGET_ACCOUNTS is not: org-wide (hub) mode starts with TARGET_ACCOUNTS (* for every active account of the organization, or account ids); unset it to watch this account only".to_owned(),
                );
            }
        }
        return None;
    };
    let accounts = target_accounts(&accounts, &mut problem);
    let regions = get("TARGET_REGIONS").map(|value| target_regions(&value, &mut problem));
    let role_name = role_name(lookup("MEMBER_ROLE_NAME"), &mut problem);
    if let Watch::Resources(_) = watch {
        problem(
            "WATCH_RESOURCES",
            "names stacks, but a hub (TARGET_ACCOUNTS) discovers every stack of its target accounts and Regions; unset WATCH_RESOURCES or set it to *, and choose which stacks notify whom with DESTINATIONS[].resources, accounts and regions".to_owned(),
        );
    }
    Some(Hub {
        accounts,
        regions,
        role_name,
    })
}

/// `TARGET_ACCOUNTS`: `*` (the organization's active accounts) or account ids.
fn target_accounts(value: &str, problem: &mut impl FnMut(&'static str, String)) -> TargetAccounts {
    if value.trim() == "*" {
        return TargetAccounts::Organization;
    }
    let (ids, bad) = super::comma_list(value, AccountId::parse);
    if !bad.is_empty() {
        problem(
            "TARGET_ACCOUNTS",
            summarise(
                &bad,
                "items are not account ids",
                "give * for every active account of the organization, or 12-digit account ids separated by commas",
            ),
        );
    }
    TargetAccounts::List(ids)
}

/// Why an item of `TARGET_REGIONS` is not a Region to watch.
#[derive(Debug, thiserror::Error)]
enum TargetRegionError {
    #[error(transparent)]
    Invalid(#[from] InvalidRegion),
    #[error(
        "{:?} is not a Region this release knows; check its spelling",
        .0.as_str()
    )]
    Unknown(Region),
}

/// `TARGET_REGIONS`: Region codes this release knows.
fn target_regions(value: &str, problem: &mut impl FnMut(&'static str, String)) -> Vec<Region> {
    let (regions, bad) = super::comma_list(value, |part| {
        let region = Region::parse(part)?;
        match region.is_known() {
            true => Ok(region),
            false => Err(TargetRegionError::Unknown(region)),
        }
    });
    if !bad.is_empty() {
        problem(
            "TARGET_REGIONS",
            summarise(
                &bad,
                "items are not Regions",
                "give Region codes separated by commas (us-east-1,eu-west-1), or unset it for the function's own Region",
            ),
        );
    }
    regions
}

/// `MEMBER_ROLE_NAME`, as given (empty is a mistake, unset the default).
fn role_name(value: Option<String>, problem: &mut impl FnMut(&'static str, String)) -> RoleName {
    match value {
        None => RoleName::default(),
        Some(value) if value.trim().is_empty() => {
            problem(
                "MEMBER_ROLE_NAME",
                format!(
                    "is empty; give the name of the read role in each member account (the MemberRoleName of templates/member-role.yaml), or unset it for the default {}",
                    RoleName::DEFAULT
                ),
            );
            RoleName::default()
        }
        Some(value) => RoleName::parse(&value).unwrap_or_else(|error| {
            problem("MEMBER_ROLE_NAME", error.to_string());
            RoleName::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    fn hub_of(pairs: &[(&str, &str)]) -> Option<Hub> {
        parse(pairs).unwrap_or_else(|error| panic!("{error}")).hub
    }

    fn problem(pairs: &[(&str, &str)]) -> String {
        parse(pairs).unwrap_err().to_string()
    }

    fn ids(list: &[&str]) -> TargetAccounts {
        TargetAccounts::List(
            list.iter()
                .map(|id| AccountId::parse(id).unwrap())
                .collect(),
        )
    }

    #[test]
    fn without_target_accounts_it_is_one_account_as_before() {
        assert_eq!(hub_of(&[]), None);
        // The template always sets TARGET_ACCOUNTS; empty means this account only.
        assert_eq!(hub_of(&[("TARGET_ACCOUNTS", "")]), None);
        assert_eq!(hub_of(&[("TARGET_ACCOUNTS", "  ")]), None);
    }

    #[test]
    fn a_star_is_the_organization_with_the_defaults() {
        let hub = hub_of(&[("TARGET_ACCOUNTS", "*"), ("WATCH_RESOURCES", "*")]).unwrap();
        assert_eq!(hub.accounts, TargetAccounts::Organization);
        assert_eq!(hub.regions, None, "the function's own Region");
        assert_eq!(hub.role_name.as_str(), "SyncNotifierReadRole");
    }

    #[test]
    fn accounts_and_regions_are_comma_separated_lists_without_repeats() {
        let hub = hub_of(&[
            ("TARGET_ACCOUNTS", "111122223333, 444455556666,111122223333"),
            ("TARGET_REGIONS", "us-east-1,eu-west-1 ,us-east-1"),
            ("MEMBER_ROLE_NAME", "Ops.Reader@sync"),
        ])
        .unwrap();
        assert_eq!(hub.accounts, ids(&["111122223333", "444455556666"]));
        let regions: Vec<&str> = hub.regions.iter().flatten().map(Region::as_str).collect();
        assert_eq!(regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(hub.role_name.as_str(), "Ops.Reader@sync");
        // An empty TARGET_REGIONS (the template's default) is the function's Region.
        let own_region = hub_of(&[("TARGET_ACCOUNTS", "111122223333"), ("TARGET_REGIONS", "")]);
        assert_eq!(own_region.unwrap().regions, None);
    }

    #[test]
    fn account_ids_that_are_not_twelve_digits_are_refused_with_the_fix() {
        let message = problem(&[("TARGET_ACCOUNTS", "111122223333,12345,abcdefghijkl")]);
        assert_eq!(
            message,
            "invalid configuration:\n  TARGET_ACCOUNTS: item 2 \"12345\" is not an AWS account id; an account id is 12 digits, like 123456789012; item 3 \"abcdefghijkl\" is not an AWS account id; an account id is 12 digits, like 123456789012; give * for every active account of the organization, or 12-digit account ids separated by commas"
        );
        let message = problem(&[("TARGET_ACCOUNTS", "111122223333,")]);
        assert!(
            message.contains("item 2 \"\" is not an AWS account id"),
            "{message}"
        );
    }

    #[test]
    fn regions_must_be_regions_this_release_knows() {
        let message = problem(&[
            ("TARGET_ACCOUNTS", "*"),
            ("TARGET_REGIONS", "us-east-1,us-eats-1,EU-WEST-1"),
        ]);
        assert_eq!(
            message,
            "invalid configuration:\n  TARGET_REGIONS: item 2 \"us-eats-1\" is not a Region this release knows; check its spelling; item 3 \"EU-WEST-1\" is not a Region code; write it like us-east-1 or eu-west-2; give Region codes separated by commas (us-east-1,eu-west-1), or unset it for the function's own Region"
        );
    }

    #[test]
    fn the_role_name_must_be_an_iam_role_name_and_not_empty() {
        let message = problem(&[("TARGET_ACCOUNTS", "*"), ("MEMBER_ROLE_NAME", "")]);
        assert_eq!(
            message,
            "invalid configuration:\n  MEMBER_ROLE_NAME: is empty; give the name of the read role in each member account (the MemberRoleName of templates/member-role.yaml), or unset it for the default SyncNotifierReadRole"
        );
        for bad in ["role/SyncNotifierReadRole", "read role", &"x".repeat(65)] {
            let message = problem(&[("TARGET_ACCOUNTS", "*"), ("MEMBER_ROLE_NAME", bad)]);
            assert!(
                message.contains("MEMBER_ROLE_NAME: ")
                    && message.contains(
                        "is not an IAM role name; use 1-64 letters, digits and + = , . @ _ -"
                    ),
                "{message}"
            );
        }
    }

    #[test]
    fn a_hub_discovers_so_stack_names_in_watch_resources_are_refused() {
        let message = problem(&[
            ("TARGET_ACCOUNTS", "111122223333"),
            ("WATCH_RESOURCES", "payments-stack"),
        ]);
        assert_eq!(
            message,
            "invalid configuration:\n  WATCH_RESOURCES: names stacks, but a hub (TARGET_ACCOUNTS) discovers every stack of its target accounts and Regions; unset WATCH_RESOURCES or set it to *, and choose which stacks notify whom with DESTINATIONS[].resources, accounts and regions"
        );
    }

    #[test]
    fn hub_variables_without_target_accounts_are_a_mistake_said_so() {
        let message = problem(&[
            ("TARGET_REGIONS", "eu-west-1"),
            ("MEMBER_ROLE_NAME", "Reader"),
        ]);
        assert_eq!(
            message,
            "invalid configuration:\n  TARGET_REGIONS: is set, but TARGET_ACCOUNTS is not: org-wide (hub) mode starts with TARGET_ACCOUNTS (* for every active account of the organization, or account ids); unset it to watch this account only\n  MEMBER_ROLE_NAME: is set, but TARGET_ACCOUNTS is not: org-wide (hub) mode starts with TARGET_ACCOUNTS (* for every active account of the organization, or account ids); unset it to watch this account only"
        );
    }

    #[test]
    fn every_hub_problem_is_reported_at_once() {
        let message = problem(&[
            ("TARGET_ACCOUNTS", "1"),
            ("TARGET_REGIONS", "mars-1"),
            ("MEMBER_ROLE_NAME", "a b"),
            ("WATCH_RESOURCES", "x"),
        ]);
        for variable in [
            "TARGET_ACCOUNTS:",
            "TARGET_REGIONS:",
            "MEMBER_ROLE_NAME:",
            "WATCH_RESOURCES:",
        ] {
            assert!(message.contains(variable), "{variable}: {message}");
        }
    }
}
