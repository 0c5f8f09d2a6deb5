//! What a person reads in any message, derived once from a [`Notification`].

use crate::domain::{Notification, NotificationKind, SyncEvent};

/// The status at a glance (emoji and words, never colour alone), and the links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts<'a> {
    pub emoji: &'static str,
    /// "Sync started", "Sync succeeded", "Sync failed".
    pub headline: &'static str,
    pub resource: &'a str,
    /// `owner/repository`.
    pub repository: String,
    pub branch: &'a str,
    pub short_sha: &'a str,
    pub commit_url: Option<String>,
    /// "3m 18s", for an ending whose end is known.
    pub duration: Option<String>,
    /// Events, newest first.
    pub events: Vec<&'a SyncEvent>,
}

impl<'a> Facts<'a> {
    pub fn of(notification: &'a Notification) -> Facts<'a> {
        let revision = &notification.attempt.target_revision;
        let (emoji, headline) = match notification.kind {
            NotificationKind::Started => ("🔄", "Sync started"),
            NotificationKind::Succeeded => ("✅", "Sync succeeded"),
            NotificationKind::Failed => ("❌", "Sync failed"),
        };
        let mut events: Vec<&SyncEvent> = notification.attempt.events.iter().collect();
        events.sort_by_key(|b| std::cmp::Reverse(b.time));
        Facts {
            emoji,
            headline,
            resource: notification.resource.as_str(),
            repository: format!("{}/{}", revision.owner_id, revision.repository_name),
            branch: &revision.branch,
            short_sha: short_sha(&revision.sha),
            commit_url: commit_url(
                &revision.provider_type,
                &revision.owner_id,
                &revision.repository_name,
                &revision.sha,
            ),
            duration: notification
                .duration_seconds()
                .map(crate::domain::human_duration),
            events,
        }
    }
}

/// The first seven characters of a commit id, as Git shows it.
pub fn short_sha(sha: &str) -> &str {
    match sha.char_indices().nth(7) {
        Some((index, _)) => &sha[..index],
        None => sha,
    }
}

/// The commit's page, for providers whose public URL follows from the revision alone.
/// Self-managed and enterprise servers have hosts we do not know, so they get none.
pub fn commit_url(provider: &str, owner: &str, repository: &str, sha: &str) -> Option<String> {
    let safe = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !safe(owner)
        || !safe(repository)
        || !sha.chars().all(|c| c.is_ascii_hexdigit())
        || sha.is_empty()
    {
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
        assert_eq!(
            commit_url("GitHubEnterpriseServer", "acme", "infra", "9f1c2e7"),
            None
        );
        assert_eq!(
            commit_url("GitHub", "acme", "in fra>", "9f1c2e7"),
            None,
            "no link built from unsafe parts"
        );
        assert_eq!(commit_url("GitHub", "acme", "infra", "not-a-sha"), None);
    }

    #[test]
    fn short_sha_is_seven_characters() {
        assert_eq!(short_sha("9f1c2e7ab12"), "9f1c2e7");
        assert_eq!(short_sha("abc"), "abc");
    }
}
