//! `ResourceName`: a stack name that CodeConnections accepts, and nothing else.

/// A resource (stack) name valid for `GetResourceSyncStatus`: 1–100 characters,
/// `^[0-9A-Za-z]+[0-9A-Za-z_\-]*$`. Holding one means it was checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{reason}; a resource name is 1-100 characters: letters, digits, '-' and '_', starting with a letter or digit"
)]
pub struct InvalidResourceName {
    pub reason: String,
}

impl ResourceName {
    pub fn parse(value: &str) -> Result<Self, InvalidResourceName> {
        let invalid = |reason: String| Err(InvalidResourceName { reason });
        let length = value.chars().count();
        if length == 0 {
            return invalid("the name is empty".into());
        }
        if length > 100 {
            return invalid(format!("the name is {length} characters long"));
        }
        if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return invalid(format!("{value:?} does not start with a letter or digit"));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return invalid(format!("{value:?} contains {bad:?}"));
        }
        Ok(ResourceName(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `sync-notifier-test`: the stack a `sync.test` message is about (no real stack).
    pub fn test_stack() -> ResourceName {
        ResourceName("sync-notifier-test".to_owned())
    }
}

impl TryFrom<String> for ResourceName {
    type Error = InvalidResourceName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ResourceName::parse(&value)
    }
}

impl From<ResourceName> for String {
    fn from(value: ResourceName) -> Self {
        value.0
    }
}

impl std::fmt::Display for ResourceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_the_api_accepts() {
        for name in ["a", "payments-stack", "Stack_1", "9lives", &"x".repeat(100)] {
            assert_eq!(ResourceName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn the_test_stack_is_a_valid_name() {
        assert_eq!(
            ResourceName::parse("sync-notifier-test").unwrap(),
            ResourceName::test_stack()
        );
    }

    #[test]
    fn refuses_names_the_api_refuses_and_says_why() {
        for (name, reason) in [
            ("", "empty"),
            ("-leading", "does not start"),
            ("_leading", "does not start"),
            ("has space", "contains ' '"),
            ("dot.ted", "contains '.'"),
            ("émoji", "does not start"),
        ] {
            let error = ResourceName::parse(name).unwrap_err();
            assert!(error.to_string().contains(reason), "{name:?}: {error}");
        }
        let error = ResourceName::parse(&"x".repeat(101)).unwrap_err();
        assert!(error.to_string().contains("101 characters"), "{error}");
    }
}
