//! Password hashes in RabbitMQ's format, so users move between RabbitMQ and Warren in
//! a definitions file: base64 of a 4-byte random salt followed by
//! `hash(salt ++ utf8(password))`, with SHA-256 (`rabbit_password_hashing_sha256`,
//! RabbitMQ's default) or SHA-512 (`rabbit_password_hashing_sha512`).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// A hashing algorithm, by RabbitMQ's module name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// `rabbit_password_hashing_sha256`.
    Sha256,
    /// `rabbit_password_hashing_sha512`.
    Sha512,
}

/// Why a stored hash cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Not one of the algorithms Warren implements.
    #[error("unsupported hashing_algorithm '{0}' (use rabbit_password_hashing_sha256 or rabbit_password_hashing_sha512)")]
    UnsupportedAlgorithm(String),
    /// Not base64, or too short to hold a salt and a hash.
    #[error("password_hash is not a base64 salt and {0} hash")]
    Malformed(&'static str),
}

impl HashAlgorithm {
    /// RabbitMQ's name for it.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "rabbit_password_hashing_sha256",
            HashAlgorithm::Sha512 => "rabbit_password_hashing_sha512",
        }
    }

    /// The algorithm called `name` (RabbitMQ's module name).
    pub fn from_name(name: &str) -> Result<Self, PasswordError> {
        match name {
            "rabbit_password_hashing_sha256" => Ok(HashAlgorithm::Sha256),
            "rabbit_password_hashing_sha512" => Ok(HashAlgorithm::Sha512),
            other => Err(PasswordError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha512 => 64,
        }
    }

    fn digest(self, salt: &[u8], password: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha256 => Sha256::new()
                .chain_update(salt)
                .chain_update(password)
                .finalize()
                .to_vec(),
            HashAlgorithm::Sha512 => Sha512::new()
                .chain_update(salt)
                .chain_update(password)
                .finalize()
                .to_vec(),
        }
    }
}

const SALT_LEN: usize = 4;

/// A salted password hash. Two hashes compare equal in constant time.
#[derive(Clone)]
pub struct PasswordHash {
    algorithm: HashAlgorithm,
    /// Salt followed by the digest.
    salted: Vec<u8>,
}

impl PartialEq for PasswordHash {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && bool::from(self.salted.ct_eq(&other.salted))
    }
}

impl Eq for PasswordHash {}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHash")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(algorithm: HashAlgorithm, password: &str) -> Self {
        let mut salt = [0u8; SALT_LEN];
        // The OS RNG does not fail on the platforms Warren runs on; a fixed salt would
        // still verify correctly, only with less protection against precomputation.
        let _ = getrandom::getrandom(&mut salt);
        Self::with_salt(algorithm, salt, password)
    }

    /// Hashes `password` with the given salt (tests, known vectors).
    pub fn with_salt(algorithm: HashAlgorithm, salt: [u8; 4], password: &str) -> Self {
        let mut salted = salt.to_vec();
        salted.extend(algorithm.digest(&salt, password.as_bytes()));
        PasswordHash { algorithm, salted }
    }

    /// Reads a hash as a definitions file stores it.
    pub fn from_base64(algorithm: HashAlgorithm, text: &str) -> Result<Self, PasswordError> {
        let what = match algorithm {
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha512 => "SHA-512",
        };
        let salted = BASE64
            .decode(text.trim())
            .map_err(|_| PasswordError::Malformed(what))?;
        if salted.len() != SALT_LEN + algorithm.digest_len() {
            return Err(PasswordError::Malformed(what));
        }
        Ok(PasswordHash { algorithm, salted })
    }

    /// The hash as a definitions file stores it.
    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.salted)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// Whether `password` is the one hashed: the digests are compared in constant time
    /// (`subtle`), so how long a refusal takes says nothing about how close the guess was.
    pub fn verify(&self, password: &str) -> bool {
        let (salt, expected) = self.salted.split_at(SALT_LEN);
        let actual = self.algorithm.digest(salt, password.as_bytes());
        // Same length by construction (`from_base64` checks it); `ct_eq` is false otherwise.
        actual.ct_eq(expected).into()
    }

    /// Checks `password` against a hash no password matches, taking as long as checking
    /// a real SHA-256 user's: a login as an unknown user (or one without a password)
    /// costs the same as a wrong password, so timing does not tell which users exist.
    /// Always false.
    pub fn verify_nothing(password: &str) -> bool {
        static DUMMY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            // A random salt and a random "password": no input hashes to its digest.
            let mut secret = [0u8; 16];
            let _ = getrandom::getrandom(&mut secret);
            PasswordHash::new(HashAlgorithm::Sha256, &BASE64.encode(secret))
        });
        // black_box: the result is thrown away, and the work must not be.
        std::hint::black_box(dummy.verify(std::hint::black_box(password)));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        for alg in [HashAlgorithm::Sha256, HashAlgorithm::Sha512] {
            let h = PasswordHash::new(alg, "s3cret");
            assert!(h.verify("s3cret"));
            assert!(!h.verify("s3cret "));
            assert!(!h.verify(""));
            let back = PasswordHash::from_base64(alg, &h.to_base64()).unwrap();
            assert_eq!(back, h);
        }
    }

    #[test]
    fn the_format_is_salt_then_digest_of_salt_and_password() {
        // Computed independently: base64(00 01 02 03 ++ sha256(00 01 02 03 "guest")).
        let h = PasswordHash::with_salt(HashAlgorithm::Sha256, [0, 1, 2, 3], "guest");
        let raw = BASE64.decode(h.to_base64()).unwrap();
        assert_eq!(&raw[..4], &[0, 1, 2, 3]);
        let mut d = Sha256::new();
        d.update([0u8, 1, 2, 3]);
        d.update(b"guest");
        assert_eq!(&raw[4..], d.finalize().as_slice());
    }

    #[test]
    fn equality_compares_algorithm_salt_and_digest() {
        let a = PasswordHash::with_salt(HashAlgorithm::Sha256, [1, 2, 3, 4], "pw");
        assert_eq!(
            a,
            PasswordHash::with_salt(HashAlgorithm::Sha256, [1, 2, 3, 4], "pw")
        );
        assert_ne!(
            a,
            PasswordHash::with_salt(HashAlgorithm::Sha256, [1, 2, 3, 5], "pw")
        );
        assert_ne!(
            a,
            PasswordHash::with_salt(HashAlgorithm::Sha512, [1, 2, 3, 4], "pw")
        );
        assert!(!PasswordHash::verify_nothing(""));
        assert!(!PasswordHash::verify_nothing("guest"));
    }

    #[test]
    fn malformed_hashes_and_unknown_algorithms_are_refused() {
        assert!(PasswordHash::from_base64(HashAlgorithm::Sha256, "not base64!").is_err());
        assert!(PasswordHash::from_base64(HashAlgorithm::Sha512, "AAAA").is_err());
        assert_eq!(
            HashAlgorithm::from_name("rabbit_password_hashing_md5"),
            Err(PasswordError::UnsupportedAlgorithm(
                "rabbit_password_hashing_md5".into()
            ))
        );
    }
}
