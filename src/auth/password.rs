//! argon2id password hashes in PHC string form.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::AuthConfig;

pub fn hash(password: &str, cfg: &AuthConfig) -> Result<String, String> {
    let params = Params::new(cfg.argon2_memory_kib, cfg.argon2_iterations, 1, None)
        .map_err(|e| format!("argon2 parameters: {e}"))?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Verifies against the parameters recorded in the hash itself, so raising the cost for new
/// hashes keeps old ones valid.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Passwords must be non-empty and of sane length; argon2 takes any bytes.
pub fn check_acceptable(password: &str) -> Result<(), String> {
    if password.is_empty() {
        Err("the password is empty".into())
    } else if password.len() > 1024 {
        Err("the password is longer than 1024 bytes".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let cfg = AuthConfig {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..AuthConfig::default()
        };
        let h = hash("s3cret", &cfg).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret", &h));
        assert!(!verify("s3cret ", &h));
        assert!(!verify("s3cret", "not a hash"));
    }
}
