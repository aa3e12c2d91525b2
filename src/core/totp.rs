//! Time-based one-time passwords (RFC 6238, with HOTP of RFC 4226): HMAC-SHA1, 30-second
//! steps, 6 digits, as every authenticator app speaks them by default.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// The HOTP value of `secret` at `counter`, with `digits` digits (RFC 4226, section 5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        return u32::MAX; // HMAC takes keys of every length; never reached
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The step a Unix time falls in.
pub fn step_at(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The 6-digit code of a step.
pub fn code(secret: &[u8], step: u64) -> u32 {
    hotp(secret, step, DIGITS)
}

/// Checks a typed code at `unix_seconds`, allowing one step of clock drift either way, and
/// only steps after `last_used` (a code is good once). The step it matched.
pub fn check(secret: &[u8], typed: &str, unix_seconds: u64, last_used: Option<u64>) -> Option<u64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = typed.parse().ok()?;
    let now = step_at(unix_seconds);
    let mut found = None;
    // Every candidate is computed, so the time taken does not tell which one matched.
    for step in [now.saturating_sub(1), now, now + 1] {
        let fresh = last_used.is_none_or(|last| step > last);
        if code(secret, step) == value && fresh && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI that authenticator apps read from a QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let secret = data_encoding::BASE32_NOPAD.encode(secret);
    let esc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        esc(issuer),
        esc(account),
        esc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 test vectors (8 digits).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, want) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(secret, step_at(time), 8), want, "T = {time}");
            // Six digits are the last six of eight.
            assert_eq!(code(secret, step_at(time)), want % 1_000_000, "T = {time}");
        }
    }

    #[test]
    fn a_code_counts_once_and_only_near_its_time() {
        let secret = b"12345678901234567890";
        let t = 1_234_567_890;
        let now = step_at(t);
        let c = format!("{:06}", code(secret, now));
        assert_eq!(check(secret, &c, t, None), Some(now));
        assert_eq!(check(secret, &c, t, Some(now)), None, "used before");
        assert_eq!(
            check(secret, &c, t + 30, None),
            Some(now),
            "one step late is fine"
        );
        assert_eq!(
            check(secret, &c, t + 90, None),
            None,
            "three steps late is not"
        );
        assert_eq!(check(secret, "12345", t, None), None);
        assert_eq!(check(secret, "abcdef", t, None), None);
        let spaced = format!("{} {}", &c[..3], &c[3..]);
        assert_eq!(check(secret, &spaced, t, None), Some(now));
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let u = otpauth_uri("Kindpakket", "jan de vries", b"12345678901234567890");
        assert_eq!(
            u,
            "otpauth://totp/Kindpakket:jan%20de%20vries?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Kindpakket&algorithm=SHA1&digits=6&period=30"
        );
    }
}
