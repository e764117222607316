//! Why an import or export could not run, inside the import code.

use crate::domain::failure::ImportFailure;
use crate::rules::error::Error;
use crate::store::error::StoreError;

/// Why an import or export could not run at all, inside the import code
/// (where `?` turns I/O, CSV and store errors into it); callers get it as
/// the engine's [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    /// The import's own reason.
    #[error(transparent)]
    Failure(ImportFailure),
    /// The engine refused or the store failed.
    #[error(transparent)]
    Engine(Error),
}

impl From<ImportFailure> for ImportError {
    fn from(e: ImportFailure) -> Self {
        Self::Failure(e)
    }
}

impl From<Error> for ImportError {
    fn from(e: Error) -> Self {
        Self::Engine(e)
    }
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<std::io::Error> for ImportError {
    fn from(e: std::io::Error) -> Self {
        Self::Failure(ImportFailure::Io { message: e.to_string() })
    }
}

impl From<csv::Error> for ImportError {
    fn from(e: csv::Error) -> Self {
        let message = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => io.into(),
            _ => Self::Failure(ImportFailure::Csv { message }),
        }
    }
}

impl From<ImportError> for Error {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Failure(e) => e.into(),
            ImportError::Engine(e) => e,
        }
    }
}
