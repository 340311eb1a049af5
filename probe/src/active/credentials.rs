//! The credentials of `--user`: one set for every target given. The password comes from
//! `RDPROBE_PASSWORD` or a no-echo prompt (never the command line, see `cli.rs`), is wiped from
//! memory when dropped, and is never printed: `Debug` shows the user only.

use zeroize::Zeroizing;

/// A user, its domain and its password.
pub struct Credentials {
    user: String,
    domain: String,
    password: Zeroizing<String>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.display())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// `USER`, `DOMAIN\USER` or `USER@DOMAIN` (a UPN: the domain part is kept as the domain),
    /// with `password`.
    pub fn new(spec: &str, password: Zeroizing<String>) -> Result<Self, String> {
        let (domain, user) = if let Some((d, u)) = spec.split_once('\\') {
            (d, u)
        } else if let Some((u, d)) = spec.rsplit_once('@') {
            (d, u)
        } else {
            ("", spec)
        };
        if user.is_empty() {
            return Err(format!("--user {spec:?}: no user name"));
        }
        if user.chars().chain(domain.chars()).any(char::is_control) {
            return Err("--user: control characters in the user or domain name".into());
        }
        if user.len() > 256 || domain.len() > 256 || password.len() > 512 {
            return Err("--user: the user, domain (256) or password (512) is too long".into());
        }
        Ok(Self {
            user: user.to_owned(),
            domain: domain.to_owned(),
            password,
        })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The password, for the code that sends it (CredSSP's TSCredentials, NTOWFv2).
    pub(crate) fn password(&self) -> &str {
        &self.password
    }

    /// The user as the output shows it: `DOMAIN\USER`, or `USER`.
    pub fn display(&self) -> String {
        if self.domain.is_empty() {
            self.user.clone()
        } else {
            format!("{}\\{}", self.domain, self.user)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(spec: &str) -> Result<Credentials, String> {
        Credentials::new(spec, Zeroizing::new("s3cret-Pass".into()))
    }

    #[test]
    fn the_three_forms_of_user() {
        let a = c("probeuser").unwrap();
        assert_eq!((a.user(), a.domain()), ("probeuser", ""));
        let b = c("PROBEDOM\\probeuser").unwrap();
        assert_eq!((b.user(), b.domain()), ("probeuser", "PROBEDOM"));
        let u = c("probeuser@corp.example").unwrap();
        assert_eq!((u.user(), u.domain()), ("probeuser", "corp.example"));
        assert_eq!(b.display(), "PROBEDOM\\probeuser");
        assert!(c("DOM\\").is_err());
        assert!(c("a\u{1b}b").is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let b = c("PROBEDOM\\probeuser").unwrap();
        let text = format!("{b:?} {b:#?}");
        assert!(text.contains("probeuser"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }
}
