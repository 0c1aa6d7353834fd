//! Sync state: what each device was told, and what it must be told next.
//!
//! Pure functions over store records; the commands run them inside store transactions.

pub mod hierarchy;
