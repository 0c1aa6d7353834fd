//! argon2id password hashes in PHC string form.

use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, Version};

use crate::config::AuthConfig;

/// The parameters new hashes are made with.
fn params(cfg: &AuthConfig) -> Result<Params, String> {
    Params::new(cfg.argon2_memory_kib, cfg.argon2_iterations, 1, None)
        .map_err(|e| format!("argon2 parameters: {e}"))
}

pub fn hash(password: &str, cfg: &AuthConfig) -> Result<String, String> {
    let params = params(cfg)?;
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

/// A hash no password matches, with the parameters [`hash`] uses: a random salt and a
/// random output, so it costs nothing to make, yet verifying against it runs the full
/// argon2 work of a real account's hash. Unknown accounts are checked against it so that
/// they answer no faster than a wrong password for a known one (no account enumeration).
pub fn decoy(cfg: &AuthConfig) -> Result<String, String> {
    let params = params(cfg)?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let output: [u8; Params::DEFAULT_OUTPUT_LEN] = rand::random();
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| format!("argon2: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| format!("argon2: {e}"))?),
    };
    Ok(phc.to_string())
}

/// A new password for an account nobody chose one for: 20 characters without look-alikes.
pub fn random() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
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

    /// The decoy costs what a real hash of the same configuration costs to verify: same
    /// algorithm, version, parameters, salt and output length; only the bytes differ.
    #[test]
    fn the_decoy_has_the_shape_of_a_real_hash_and_matches_nothing() {
        let cfg = AuthConfig {
            argon2_memory_kib: 2048,
            argon2_iterations: 3,
            ..AuthConfig::default()
        };
        let real = hash("s3cret", &cfg).unwrap();
        let decoy = decoy(&cfg).unwrap();
        let (r, d) = (
            PasswordHash::new(&real).unwrap(),
            PasswordHash::new(&decoy).unwrap(),
        );
        assert_eq!(d.algorithm, r.algorithm);
        assert_eq!(d.version, r.version);
        assert_eq!(d.params, r.params);
        assert_eq!(
            d.salt.unwrap().as_str().len(),
            r.salt.unwrap().as_str().len()
        );
        assert_eq!(d.hash.unwrap().len(), r.hash.unwrap().len());
        for guess in ["s3cret", "", "password"] {
            assert!(!verify(guess, &decoy));
        }
        assert_ne!(decoy, super::decoy(&cfg).unwrap(), "a fresh salt each time");
    }
}
