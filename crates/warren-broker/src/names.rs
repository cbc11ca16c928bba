//! Server-generated names: `amq.gen-…` queues and `amq.ctag-…` consumer tags.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// 128 unpredictable bits: two SipHash outputs under a per-process random key, fed a
/// counter so no two calls collide.
fn random_u128() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEY: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let half = |salt: u64| {
        let mut h = key.build_hasher();
        h.write_u64(n);
        h.write_u64(salt);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// 22 URL-safe base64 characters of randomness, as RabbitMQ's generated names have.
fn random_suffix() -> String {
    let mut v = random_u128();
    (0..22)
        .map(|_| {
            let c = ALPHABET[(v & 63) as usize];
            v >>= 6;
            char::from(c)
        })
        .collect()
}

/// A server-generated queue name, e.g. `amq.gen-JzTY20BRgKO-HjmUJj0wLg`.
pub fn generated_queue_name() -> String {
    format!("amq.gen-{}", random_suffix())
}

/// A server-generated consumer tag, e.g. `amq.ctag-JzTY20BRgKO-HjmUJj0wLg`.
pub fn generated_consumer_tag() -> String {
    format!("amq.ctag-{}", random_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_have_rabbitmq_shape_and_differ() {
        let a = generated_queue_name();
        let b = generated_queue_name();
        assert!(a.starts_with("amq.gen-") && a.len() == 30, "{a}");
        assert_ne!(a, b);
        assert!(generated_consumer_tag().starts_with("amq.ctag-"));
    }
}
