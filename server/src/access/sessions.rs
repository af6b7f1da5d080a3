//! Login sessions for `--auth`: a random token in an HttpOnly cookie,
//! valid until it expires or its user logs out. Tokens are stored only as
//! their SHA-256, so looking one up reveals nothing through timing.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};

use crate::secrets::new_token;

struct Session {
    user: String,
    expires: Instant,
}

pub struct Sessions {
    lifetime: Duration,
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            by_hash: Mutex::default(),
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_hash.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session for `user`; returns its token.
    pub fn start(&self, user: &str) -> String {
        let token = new_token();
        let mut map = self.map();
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(
            hash(&token),
            Session {
                user: user.to_string(),
                expires: now + self.lifetime,
            },
        );
        token
    }

    /// The user of a live session.
    pub fn user(&self, token: &str) -> Option<String> {
        let mut map = self.map();
        let key = hash(token);
        match map.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.user.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends one session (logout, or the old session of a new login).
    pub fn end(&self, token: &str) {
        self.map().remove(&hash(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_end() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let a = sessions.start("ann");
        let b = sessions.start("ann");
        assert_ne!(a, b);
        assert_eq!(sessions.user(&a).as_deref(), Some("ann"));
        sessions.end(&a);
        assert_eq!(sessions.user(&a), None);
        assert_eq!(sessions.user(&b).as_deref(), Some("ann"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(sessions.user(&b), None, "expired");
        assert_eq!(sessions.user("not a token"), None);
    }
}
