//! Kerberos errors (RFC 4120 7.5.9, MS-KILE): a KRB-ERROR by its name (`KDC_ERR_PREAUTH_FAILED`)
//! or as `krb:24`, with what it means, where it arises and the finding that names its cause
//! (`diagnose::rules::krb_error_finding_id`, the one table of both fronts).

use super::{cause, Cause, Explanation, Kind};
use crate::diagnose::FindingId;
use crate::facts::kerberos::KrbErrorCode;

/// RFC 4120 7.5.9's words for the codes a Remote Desktop logon meets.
fn words(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "the client's entry in the KDC's database has expired (the account expired)",
        6 => "the KDC does not know the client: no such user in the realm",
        7 => "the KDC knows no service principal for the name asked (TERMSRV/<name>): connecting by IP address or by an alias",
        12 => "the KDC's policy rejects the request (MIT: the principal may not get tickets; AD: a logon restriction)",
        14 => "the KDC and the client share no encryption type (DES or RC4 only on one side, AES on the other)",
        18 => "the client's credentials have been revoked: the account is locked out or disabled",
        23 => "the password has expired",
        24 => "pre-authentication failed: the encrypted timestamp does not open with the user's key, a wrong password",
        25 => "pre-authentication is required: the KDC's normal first answer (the client then proves its password); not an error",
        31 => "the ticket or authenticator failed its integrity check",
        32 => "the ticket has expired",
        34 => "the request is a replay",
        37 => "the clocks of client and KDC (or server) differ by more than the allowed skew (5 minutes)",
        41 => "the message does not open with the service's key: the ticket was made for another account's key (a duplicated SPN, a stale computer password)",
        52 => "the answer is too big for UDP: the client retries over TCP; not an error",
        68 => "the realm is wrong: the client asks another realm's KDC (a referral); not an error",
        _ => return None,
    })
}

/// A KRB-ERROR's name (`KDC_ERR_PREAUTH_FAILED`) or `krb:N` / `kerberos:N`; None otherwise.
pub fn parse(s: &str) -> Option<i32> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    for prefix in ["krb:", "kerberos:", "krb5:"] {
        if let Some(n) = lower.strip_prefix(prefix) {
            return n.trim().parse().ok().filter(|n| (0..=127).contains(n));
        }
    }
    let upper = t.to_ascii_uppercase();
    if !(upper.starts_with("KDC_ERR_")
        || upper.starts_with("KRB_AP_ERR_")
        || upper.starts_with("KRB_ERR_"))
    {
        return None;
    }
    (0..=127).find(|n| KrbErrorCode(*n).to_string() == upper)
}

/// The explanation of KRB-ERROR `code`.
pub fn explain(code: i32) -> Explanation {
    let name = KrbErrorCode(code).to_string();
    let named = !name.chars().all(|c| c.is_ascii_digit()) && !name.starts_with("ErrorCode");
    let id = crate::diagnose::rules::krb_error_finding_id(KrbErrorCode(code));
    let causes: Vec<Cause> = match id {
        Some(id) => vec![cause(id)],
        None => Vec::new(),
    };
    let meaning = words(code).map(str::to_owned).unwrap_or_else(|| match id {
        Some(FindingId::KerberosError) | None => {
            "a Kerberos error rdprobe has no words for; the KDC's or server's logs name it".into()
        }
        Some(i) => i.entry().1.to_string(),
    });
    Explanation {
        kind: Kind::KerberosError,
        code: format!("{code}"),
        name: named.then_some(name),
        meaning,
        stage: "kerberos: the KDC's answer to the AS-REQ (the password) or the TGS-REQ (the TERMSRV ticket); KRB_AP_ERR_* also from the RDP server to the AP-REQ in CredSSP",
        causes,
        source: "RFC 4120 7.5.9 (error codes), MS-KILE 2.2",
        known: words(code).is_some() || named,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("KDC_ERR_PREAUTH_FAILED"), Some(24));
        assert_eq!(parse("kdc_err_s_principal_unknown"), Some(7));
        assert_eq!(parse("KRB_AP_ERR_SKEW"), Some(37));
        assert_eq!(parse("krb:18"), Some(18));
        assert_eq!(parse("0x904"), None);
        assert_eq!(parse("KDC_ERR_NOT_A_THING"), None);
        let e = explain(24);
        assert_eq!(e.name.as_deref(), Some("KDC_ERR_PREAUTH_FAILED"));
        assert_eq!(e.causes[0].finding, FindingId::KerberosPreauthFailed);
        assert!(e.causes[0].check.contains("--auth kerberos"));
        assert!(
            explain(25).causes.is_empty(),
            "PREAUTH_REQUIRED is no error"
        );
        assert_eq!(explain(7).causes[0].finding, FindingId::KerberosSpnUnknown);
    }
}
