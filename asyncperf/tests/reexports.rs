//! Checks that every enabled feature exposes its pattern crate under the facade.
