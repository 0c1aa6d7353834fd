pub mod hub;
pub mod notify;
