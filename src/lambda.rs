//! Lambda mode (filled in with the Lambda issue).
