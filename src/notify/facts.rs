//! What a person reads in any message, derived once from a [`Notification`]: the status
//! in emoji *and* words, the stack (and in hub mode its account and Region), where the
//! template comes from, the commit (linked when the provider's URL is known), when it
//! started and how long it took, the newer commit waiting when the desired revision
//! differs, the events newest first, and a link to the stack in the CloudFormation
//! console. Values here are raw: [`layout`](super::layout) orders them into a message and
//! each adapter escapes them for its own markup.

use crate::domain::{
    Notification, NotificationKind, Region, Revision, SyncEvent, SyncStatus, Timestamp,
};

/// The status at a glance (emoji and words, never colour alone), and the links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts<'a> {
    pub kind: NotificationKind,
    pub emoji: &'static str,
    /// "Sync started", "Sync succeeded", "Sync failed".
    pub headline: &'static str,
    /// "Started", "Succeeded", "Failed".
    pub status: &'static str,
    /// What we had seen of this attempt before ("In progress"), when we had.
    pub previous_status: Option<String>,
    pub resource: &'a str,
    /// The Git provider as CodeConnections names it (`GitHub`, `GitLab`, …).
    pub provider: &'a str,
    /// `owner/repository`.
    pub repository: String,
    pub branch: &'a str,
    /// The stack deployment file in the repository.
    pub directory: &'a str,
    /// The commit this sync deploys.
    pub commit: Commit,
    /// The commit Git sync wants deployed, when it is not the one this sync deploys
    /// (a newer push is waiting).
    pub desired: Option<Commit>,
    pub started_at: Timestamp,
    /// "3m 18s", for an ending whose end is known.
    pub duration: Option<String>,
    /// Events, newest first.
    pub events: Vec<&'a SyncEvent>,
    /// How many events AWS reported beyond those kept.
    pub events_omitted: usize,
    pub note: Option<&'a str>,
    /// The stack in the CloudFormation console, when the region is known.
    pub console_url: Option<String>,
    /// The stack's account (and its name, when known) and Region, in hub mode.
    pub account: Option<String>,
    pub region: Option<&'a str>,
    /// How long the attempt had been running, for `sync.stuck`.
    pub running: Option<String>,
    /// Why it failed, in one line (§14): `OrdersTable (AWS::DynamoDB::Table)
    /// CREATE_FAILED — Table already exists: orders-v2`.
    pub why: Option<String>,
    /// What it changed: `2 created (OrdersTable, OrdersQueue), 1 updated (Api)`.
    pub changes: Option<String>,
    /// The provider's page comparing the last successful commit with this one.
    pub compare: Option<Compare>,
}

/// A compare link: from the last success's commit to this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    pub from_short_sha: String,
    pub url: String,
}

/// A commit as people see it: seven characters, linked when we know where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub short_sha: String,
    pub url: Option<String>,
}

impl Commit {
    fn of(revision: &Revision) -> Commit {
        Commit {
            short_sha: short_sha(&revision.sha).to_owned(),
            url: commit_url(
                &revision.provider_type,
                &revision.owner_id,
                &revision.repository_name,
                &revision.sha,
            ),
        }
    }
}

impl<'a> Facts<'a> {
    /// `❌ Sync failed: orders-stack · c4f8a2e on acme/infra (main)`: the one line a phone
    /// notification shows. `value(text, limit)` makes each Git value safe and short for the
    /// destination's format (the stack name is already safe: it was validated).
    pub fn one_line(&self, value: impl Fn(&str, usize) -> String) -> String {
        format!(
            "{} {}: {} · {} on {} ({})",
            self.emoji,
            self.headline,
            self.resource,
            value(&self.commit.short_sha, 40),
            value(&self.repository, 80),
            value(self.branch, 60),
        )
    }

    /// The facts of `notification`; console links point at the stack's own Region in hub
    /// mode, else at `region` (the function's).
    pub fn of(notification: &'a Notification, region: Option<&Region>) -> Facts<'a> {
        let revision = &notification.attempt.target_revision;
        let (emoji, headline, status) = match notification.kind {
            NotificationKind::Started => ("🔄", "Sync started", "Started"),
            NotificationKind::Succeeded => ("✅", "Sync succeeded", "Succeeded"),
            NotificationKind::Failed => ("❌", "Sync failed", "Failed"),
            NotificationKind::Blocked => ("⛔", "Sync blocked", "Blocked"),
            NotificationKind::Unblocked => ("🔓", "Sync unblocked", "Unblocked"),
            NotificationKind::Stuck => ("⏳", "Sync stuck", "Still running"),
            NotificationKind::Test => ("🧪", "Test message", "Test"),
            NotificationKind::Reminder => ("🔔", "Reminder", "Still needs attention"),
            NotificationKind::Digest => ("📋", "Digest", "Digest"),
        };

        let mut events: Vec<&SyncEvent> = notification.attempt.events.iter().collect();
        // Newest first; a stable sort keeps AWS's order among events of the same second.
        events.sort_by_key(|event| std::cmp::Reverse(event.time));
        let desired = notification
            .desired_state
            .as_ref()
            .filter(|desired| desired.sha != revision.sha && !desired.sha.is_empty())
            .map(Commit::of);
        Facts {
            kind: notification.kind,
            emoji,
            headline,
            status,
            previous_status: notification.previous_status.as_ref().map(status_words),
            resource: notification.resource.as_str(),
            provider: &revision.provider_type,
            repository: format!("{}/{}", revision.owner_id, revision.repository_name),
            branch: &revision.branch,
            directory: &revision.directory,
            commit: match notification.kind {
                // A test message's commit is made up: no link.
                NotificationKind::Test => Commit {
                    url: None,
                    ..Commit::of(revision)
                },
                _ => Commit::of(revision),
            },
            desired,
            started_at: notification.attempt.started_at,
            duration: notification
                .duration_seconds()
                .map(crate::domain::human_duration),
            events,
            events_omitted: notification.attempt.events_omitted,
            note: notification.note.as_deref(),
            console_url: console_url(notification, region),
            account: notification.location.as_ref().map(|location| {
                match notification
                    .account_name
                    .as_deref()
                    .filter(|name| !name.is_empty())
                {
                    Some(name) => format!("{name} ({})", location.account),
                    None => location.account.to_string(),
                }
            }),
            region: notification
                .location
                .as_ref()
                .map(|location| location.region.as_str()),
            running: notification
                .running_seconds()
                .map(crate::domain::human_duration),
            why: notification
                .explanation
                .root_cause
                .as_ref()
                .map(|cause| cause.line()),
            changes: notification
                .explanation
                .changes
                .as_ref()
                .filter(|changes| !changes.is_empty())
                .map(|changes| changes.line(CHANGED_NAMES_SHOWN)),
            compare: compare_of(notification),
        }
    }
}

/// The compare link of a notification: from the last success's commit to this attempt's
/// (none for a test message, an unknown provider, or the same commit).
pub fn compare_of(notification: &Notification) -> Option<Compare> {
    if notification.kind == NotificationKind::Test {
        return None;
    }
    let from = notification.explanation.compare_from.as_deref()?;
    let revision = &notification.attempt.target_revision;
    let url = compare_url(
        &revision.provider_type,
        &revision.owner_id,
        &revision.repository_name,
        from,
        &revision.sha,
    )?;
    Some(Compare {
        from_short_sha: short_sha(from).to_owned(),
        url,
    })
}

/// How many names of each kind of change a message shows (the webhook body has them all,
/// up to 50).
pub const CHANGED_NAMES_SHOWN: usize = 3;

/// A status in words for people: `IN_PROGRESS` → "In progress".
pub fn status_words(status: &SyncStatus) -> String {
    match status {
        SyncStatus::Initiated => "Initiated".into(),
        SyncStatus::InProgress => "In progress".into(),
        SyncStatus::Succeeded => "Succeeded".into(),
        SyncStatus::Failed => "Failed".into(),
        SyncStatus::Unknown(other) => other.clone(),
    }
}

/// The first seven characters of a commit id, as Git shows it.
pub fn short_sha(sha: &str) -> &str {
    match sha.char_indices().nth(7) {
        Some((index, _)) => &sha[..index],
        None => sha,
    }
}

/// A hex fingerprint of a stack's attempt, `bytes` long before encoding: the same for
/// every notification about that attempt (its start, its ending, a blocker seen then) and
/// for no other attempt or stack, so chat threads can group one sync's messages.
pub fn attempt_fingerprint(notification: &Notification, bytes: usize) -> String {
    use sha2::{Digest, Sha256};
    let attempt = notification.attempt.id();
    let mut hasher = Sha256::new();
    hasher.update(notification.stack().key().as_bytes());
    hasher.update([0]);
    hasher.update(attempt.started_at.as_millis().to_be_bytes());
    hasher.update(attempt.sha.as_bytes());
    let digest = hasher.finalize();
    digest[..bytes.min(digest.len())]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The commit's page, for providers whose public URL follows from the revision alone.
///
/// Self-managed and enterprise servers have hosts we do not know, so they get none. Azure
/// DevOps gets none either: its commit URL needs the organisation *and* the project, and
/// CodeConnections documents no way to tell them apart in `OwnerId`, so any link we
/// built could point at the wrong place.
pub fn commit_url(provider: &str, owner: &str, repository: &str, sha: &str) -> Option<String> {
    if !linkable(owner, repository, &[sha]) {
        return None;
    }
    match provider {
        "GitHub" => Some(format!(
            "https://github.com/{owner}/{repository}/commit/{sha}"
        )),
        "GitLab" => Some(format!(
            "https://gitlab.com/{owner}/{repository}/-/commit/{sha}"
        )),
        "Bitbucket" => Some(format!(
            "https://bitbucket.org/{owner}/{repository}/commits/{sha}"
        )),
        _ => None,
    }
}

/// Whether a revision's parts can go into a provider's URL as they are.
fn linkable(owner: &str, repository: &str, shas: &[&str]) -> bool {
    let safe = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    safe(owner)
        && safe(repository)
        && shas
            .iter()
            .all(|sha| !sha.is_empty() && sha.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The provider's page comparing commit `from` with `to` (ARCHITECTURE §14), for the same
/// hosted providers as [`commit_url`]; none for the same commit.
pub fn compare_url(
    provider: &str,
    owner: &str,
    repository: &str,
    from: &str,
    to: &str,
) -> Option<String> {
    if from == to || !linkable(owner, repository, &[from, to]) {
        return None;
    }
    match provider {
        "GitHub" => Some(format!(
            "https://github.com/{owner}/{repository}/compare/{from}...{to}"
        )),
        "GitLab" => Some(format!(
            "https://gitlab.com/{owner}/{repository}/-/compare/{from}...{to}"
        )),
        "Bitbucket" => Some(format!(
            "https://bitbucket.org/{owner}/{repository}/branches/compare/{to}%0D{from}"
        )),
        _ => None,
    }
}

/// The stack in the CloudFormation console (its Git sync tab is one click away), in its
/// own Region in hub mode, else in `region` (the function's).
///
/// The console has no documented address for the Git sync tab itself, so we link the
/// stack: its own page when an event carries the stack's ARN in this Region, otherwise
/// the stack list filtered to its name, which works from the name alone.
pub fn console_url(notification: &Notification, region: Option<&Region>) -> Option<String> {
    // A test message names no real stack: a link would lead nowhere.
    if notification.kind == NotificationKind::Test {
        return None;
    }
    // A hub's stack lives in its own Region; a single account's in the function's.
    let region = notification
        .location
        .as_ref()
        .map(|location| &location.region)
        .or(region)?;
    let home = format!(
        "https://{}/cloudformation/home?region={region}",
        region.console_host()
    );
    Some(match stack_arn(notification, Some(region)) {
        Some(arn) => format!("{home}#/stacks/stackinfo?stackId={}", encode(arn)),
        None => format!(
            "{home}#/stacks?filteringText={}&filteringStatus=active&viewNested=true",
            encode(notification.resource.as_str())
        ),
    })
}

/// The stack's ARN, when one of the attempt's events carries it (as its `ExternalId`):
/// an ARN of this stack, in its own Region in hub mode, else in `region` (the
/// function's); in any Region when neither is known.
pub fn stack_arn<'a>(notification: &'a Notification, region: Option<&Region>) -> Option<&'a str> {
    let region = notification
        .location
        .as_ref()
        .map(|location| &location.region)
        .or(region)
        .map(Region::as_str);
    let resource = notification.resource.as_str();
    notification
        .attempt
        .events
        .iter()
        .filter_map(|event| event.external_id.as_deref())
        .find(|id| is_stack_arn(id, region, resource))
}

/// `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`, in `region`
/// when it is given.
fn is_stack_arn(id: &str, region: Option<&str>, resource: &str) -> bool {
    let parts: Vec<&str> = id.splitn(6, ':').collect();
    let [arn, partition, service, arn_region, account, rest] = parts.as_slice() else {
        return false;
    };
    let Some(stack) = rest.strip_prefix("stack/") else {
        return false;
    };
    let Some((name, unique)) = stack.split_once('/') else {
        return false;
    };
    *arn == "arn"
        && partition.starts_with("aws")
        && *service == "cloudformation"
        && region.is_none_or(|region| *arn_region == region)
        && !arn_region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && name == resource
        && !unique.is_empty()
        && unique
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_links_for_known_providers_only() {
        assert_eq!(
            commit_url("GitHub", "acme", "infra", "9f1c2e7ab").as_deref(),
            Some("https://github.com/acme/infra/commit/9f1c2e7ab")
        );
        assert_eq!(
            commit_url("GitLab", "acme", "infra", "9f1c2e7").as_deref(),
            Some("https://gitlab.com/acme/infra/-/commit/9f1c2e7")
        );
        assert_eq!(
            commit_url("Bitbucket", "acme", "infra", "9f1c2e7").as_deref(),
            Some("https://bitbucket.org/acme/infra/commits/9f1c2e7")
        );
        for provider in [
            "GitHubEnterpriseServer",
            "GitLabSelfManaged",
            "AzureDevOps",
            "GitHubEnterpriseCloudDataResidency",
        ] {
            assert_eq!(commit_url(provider, "acme", "infra", "9f1c2e7"), None);
        }
        assert_eq!(
            commit_url("GitHub", "acme", "in fra>", "9f1c2e7"),
            None,
            "no link built from unsafe parts"
        );
        assert_eq!(commit_url("GitHub", "acme", "infra", "not-a-sha"), None);
    }

    #[test]
    fn compare_links_for_the_hosted_providers_from_the_last_success_to_this_commit() {
        assert_eq!(
            compare_url("GitHub", "acme", "infra", "7a3e5c1", "c4f8a2e").as_deref(),
            Some("https://github.com/acme/infra/compare/7a3e5c1...c4f8a2e")
        );
        assert_eq!(
            compare_url("GitLab", "acme", "infra", "7a3e5c1", "c4f8a2e").as_deref(),
            Some("https://gitlab.com/acme/infra/-/compare/7a3e5c1...c4f8a2e")
        );
        assert_eq!(
            compare_url("Bitbucket", "acme", "infra", "7a3e5c1", "c4f8a2e").as_deref(),
            Some("https://bitbucket.org/acme/infra/branches/compare/c4f8a2e%0D7a3e5c1")
        );
        for provider in ["GitHubEnterpriseServer", "GitLabSelfManaged", "AzureDevOps"] {
            assert_eq!(
                compare_url(provider, "acme", "infra", "7a3e5c1", "c4f8a2e"),
                None,
                "{provider}: a host we do not know"
            );
        }
        assert_eq!(
            compare_url("GitHub", "acme", "infra", "c4f8a2e", "c4f8a2e"),
            None
        );
        assert_eq!(compare_url("GitHub", "acme", "infra", "", "c4f8a2e"), None);
        assert_eq!(
            compare_url("GitHub", "ac me", "infra", "7a3e5c1", "c4f8a2e"),
            None
        );
        assert_eq!(
            compare_url("GitHub", "acme", "infra", "7a3e5c1>", "c4f8a2e"),
            None
        );
    }

    #[test]
    fn short_sha_is_seven_characters() {
        assert_eq!(short_sha("9f1c2e7ab12"), "9f1c2e7");
        assert_eq!(short_sha("abc"), "abc");
    }

    #[test]
    fn stack_arns_must_name_this_stack_in_this_region() {
        let arn =
            "arn:aws:cloudformation:us-east-1:123456789012:stack/payments-stack/1b2c3d4e-aaaa";
        assert!(is_stack_arn(arn, Some("us-east-1"), "payments-stack"));
        assert!(is_stack_arn(arn, None, "payments-stack"));
        assert!(!is_stack_arn(arn, Some("eu-west-1"), "payments-stack"));
        assert!(!is_stack_arn(arn, Some("us-east-1"), "orders-stack"));
        assert!(!is_stack_arn(arn, None, "orders-stack"));
        assert!(!is_stack_arn(
            "arn:aws:s3:::bucket",
            Some("us-east-1"),
            "payments-stack"
        ));
        assert!(!is_stack_arn(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/payments-stack/<x>",
            Some("us-east-1"),
            "payments-stack"
        ));
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a:b/c d&e"), "a%3Ab%2Fc%20d%26e");
    }
}
