//! Retention: see the module doc of crate::retention.
