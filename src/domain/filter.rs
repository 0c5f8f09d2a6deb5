//! Which notifications a destination wants: by type (`NOTIFY_ON`, `events`), by stack name
//! (`resources`), and in hub mode by account and Region (`accounts`, `regions`).

use super::{Notification, NotificationKind, StackRef};

/// A set of notification kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSet(u16);

impl KindSet {
    pub const NONE: KindSet = KindSet(0);
    /// Every kind told about stacks: what `NOTIFY_ON` and a destination's `events` mean
    /// when unset. Not `sync.test` (sent on request only) nor `sync.digest` (asked for by
    /// name: `events` or `NOTIFY_ON` containing `digest`).
    pub const ALL: KindSet = KindSet::of(&[
        NotificationKind::Started,
        NotificationKind::Succeeded,
        NotificationKind::Failed,
        NotificationKind::Blocked,
        NotificationKind::Unblocked,
        NotificationKind::Stuck,
        NotificationKind::Reminder,
    ]);

    const fn bit(kind: NotificationKind) -> u16 {
        1 << (kind as u16)
    }

    pub const fn of(kinds: &[NotificationKind]) -> KindSet {
        let mut set = 0;
        let mut index = 0;
        while index < kinds.len() {
            set |= Self::bit(kinds[index]);
            index += 1;
        }
        KindSet(set)
    }

    pub fn contains(&self, kind: NotificationKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    pub fn insert(&mut self, kind: NotificationKind) {
        self.0 |= Self::bit(kind);
    }

    pub fn without(mut self, kind: NotificationKind) -> KindSet {
        self.0 &= !Self::bit(kind);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The words of the kinds in the set, `started,failed`.
    pub fn words(&self) -> String {
        NotificationKind::CHOOSABLE
            .into_iter()
            .filter(|kind| self.contains(*kind))
            .map(NotificationKind::word)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// How to write a pattern, said with every [`InvalidGlob`] that a rewrite fixes.
const GLOB_FIX: &str = "use letters, digits, '-' and '_' as in stack names, with * for any run of characters and ? for one";

/// Why a text is not a [`Glob`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGlob {
    #[error("the pattern is empty; {GLOB_FIX}")]
    Empty,
    #[error("the pattern is {length} characters long, and no stack name is longer than 100")]
    TooLong { length: usize },
    #[error(
        "{:?} contains {character:?}, which no stack name has; {GLOB_FIX}",
        crate::text::preview(.pattern, 40)
    )]
    Character { pattern: String, character: char },
}

/// A pattern for stack names, account ids or Regions: `*` matches any run of characters,
/// `?` exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// Accepts the characters a stack name may have, plus the two wildcards.
    pub fn parse(pattern: &str) -> Result<Glob, InvalidGlob> {
        let length = pattern.chars().count();
        if length == 0 {
            return Err(InvalidGlob::Empty);
        }
        if length > 100 {
            return Err(InvalidGlob::TooLong { length });
        }
        if let Some(character) = pattern
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_*?".contains(*c)))
        {
            return Err(InvalidGlob::Character {
                pattern: pattern.to_owned(),
                character,
            });
        }
        Ok(Glob(pattern.to_owned()))
    }

    /// Iterative matching with one backtrack point: linear in practice, never exponential.
    pub fn matches(&self, name: &str) -> bool {
        let pattern = self.0.as_bytes();
        let name = name.as_bytes();
        let (mut p, mut n) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match pattern.get(p) {
                Some(b'*') => {
                    star = Some((p, n));
                    p += 1;
                }
                Some(b'?') => {
                    p += 1;
                    n += 1;
                }
                Some(c) if *c == name[n] => {
                    p += 1;
                    n += 1;
                }
                _ => match star {
                    Some((star_p, star_n)) => {
                        p = star_p + 1;
                        n = star_n + 1;
                        star = Some((star_p, star_n + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|c| *c == b'*')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which notifications a destination wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub events: KindSet,
    /// `None`: every stack.
    pub resources: Option<Vec<Glob>>,
    /// Account ids or patterns (hub mode); `None`: every account.
    pub accounts: Option<Vec<Glob>>,
    /// Regions or patterns (hub mode); `None`: every Region.
    pub regions: Option<Vec<Glob>>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::ALL
    }
}

impl Filter {
    /// Everything.
    pub const ALL: Filter = Filter::events(KindSet::ALL);

    /// These kinds, from every stack.
    pub const fn events(events: KindSet) -> Filter {
        Filter {
            events,
            resources: None,
            accounts: None,
            regions: None,
        }
    }

    pub fn accepts(&self, notification: &Notification) -> bool {
        self.matches(notification.kind, &notification.stack())
    }

    /// Whether a notification of `kind` about `stack` is wanted. A stack of this account
    /// (no location) passes the account and Region patterns.
    pub fn matches(&self, kind: NotificationKind, stack: &StackRef) -> bool {
        let any = |globs: &Option<Vec<Glob>>, value: &str| {
            globs
                .as_ref()
                .is_none_or(|globs| globs.iter().any(|glob| glob.matches(value)))
        };
        self.events.contains(kind)
            && any(&self.resources, stack.name.as_str())
            && stack.location.as_ref().is_none_or(|location| {
                any(&self.accounts, location.account.as_str())
                    && any(&self.regions, location.region.as_str())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, Location, Region, ResourceName};

    fn glob(pattern: &str) -> Glob {
        Glob::parse(pattern).unwrap()
    }

    fn stack(name: &str) -> StackRef {
        StackRef::local(ResourceName::parse(name).unwrap())
    }

    #[test]
    fn globs_match_like_shell_patterns() {
        assert!(glob("prod-*").matches("prod-payments"));
        assert!(glob("prod-*").matches("prod-"));
        assert!(!glob("prod-*").matches("staging-prod-x"));
        assert!(glob("*-stack").matches("payments-stack"));
        assert!(glob("a*b*c").matches("aXXbYYc"));
        assert!(!glob("a*b*c").matches("aXXbYY"));
        assert!(glob("stack-?").matches("stack-1"));
        assert!(!glob("stack-?").matches("stack-12"));
        assert!(glob("*").matches(""));
        assert!(glob("payments-stack").matches("payments-stack"));
        assert!(!glob("payments-stack").matches("payments-stack2"));
        assert!(glob("**a").matches("bba"));
    }

    #[test]
    fn glob_patterns_use_stack_name_characters_only() {
        assert!(
            Glob::parse("prod.*")
                .unwrap_err()
                .to_string()
                .contains("contains '.'")
        );
        assert!(Glob::parse("").unwrap_err().to_string().contains("empty"));
        assert!(
            Glob::parse(&"x".repeat(101))
                .unwrap_err()
                .to_string()
                .contains("101 characters")
        );
    }

    #[test]
    fn filters_need_both_the_type_and_the_stack() {
        let filter = Filter {
            resources: Some(vec![glob("prod-*")]),
            ..Filter::events(KindSet::of(&[NotificationKind::Failed]))
        };
        assert!(filter.matches(NotificationKind::Failed, &stack("prod-a")));
        assert!(!filter.matches(NotificationKind::Succeeded, &stack("prod-a")));
        assert!(!filter.matches(NotificationKind::Failed, &stack("dev-a")));
        assert!(Filter::ALL.matches(NotificationKind::Started, &stack("anything")));
        assert!(!Filter::ALL.matches(NotificationKind::Test, &stack("anything")));
    }

    #[test]
    fn account_and_region_patterns_apply_to_hub_stacks() {
        let filter = Filter {
            accounts: Some(vec![glob("1111*")]),
            regions: Some(vec![glob("eu-*")]),
            ..Filter::ALL
        };
        let at = |account: &str, region: &str| StackRef {
            location: Some(Location {
                account: AccountId::parse(account).unwrap(),
                region: Region::parse(region).unwrap(),
            }),
            name: ResourceName::parse("app").unwrap(),
        };
        assert!(filter.matches(NotificationKind::Failed, &at("111122223333", "eu-west-1")));
        assert!(!filter.matches(NotificationKind::Failed, &at("222233334444", "eu-west-1")));
        assert!(!filter.matches(NotificationKind::Failed, &at("111122223333", "us-east-1")));
        assert!(filter.matches(NotificationKind::Failed, &stack("app")));
    }

    #[test]
    fn kind_sets_hold_what_was_put_in() {
        let set = KindSet::of(&[NotificationKind::Started, NotificationKind::Stuck]);
        assert!(set.contains(NotificationKind::Stuck));
        assert!(!set.contains(NotificationKind::Failed));
        assert_eq!(set.words(), "started,stuck");
        assert_eq!(
            KindSet::ALL.words(),
            "started,succeeded,failed,blocked,unblocked,stuck,reminder"
        );
        assert!(
            !KindSet::ALL.contains(NotificationKind::Digest),
            "asked for by name only"
        );
        assert!(KindSet::NONE.is_empty());
        assert!(
            !KindSet::ALL
                .without(NotificationKind::Started)
                .contains(NotificationKind::Started)
        );
    }
}
