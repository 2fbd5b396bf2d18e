//! Failures of the scheduler as a component.

/// Failures of the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API could not be reached.
    #[error("api: {0}")]
    Api(String),
    /// The configuration is invalid (e.g. an unknown plugin in the profile).
    #[error("config: {0}")]
    Config(String),
}
