//! Terminal-safe text for strings that came off the wire (cookies, names, certificate fields).
//!
//! Control characters (C0, DEL, C1), bidirectional overrides and other invisible format
//! characters are written as `\xNN` / `\u{NNNN}` escapes, and a backslash as `\\`, so that a
//! hostile value cannot move the cursor, change colours or reorder what the terminal shows.

use std::fmt::Write;

/// Escapes `s` for display on a terminal.
pub fn terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe_format(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes raw bytes: valid UTF-8 as [`terminal`], other bytes as `\xNN`.
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&terminal(chunk.valid()));
        for x in chunk.invalid() {
            let _ = write!(out, "\\x{x:02x}");
        }
    }
    out
}

/// C1 controls, bidi controls, zero-width and other format characters: escaped on the terminal
/// and in JSON (`report::json`).
pub fn is_unsafe_format(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9F
        | 0x061C
        | 0x200B..=0x200F
        | 0x2028..=0x202E
        | 0x2060..=0x2069
        | 0xFEFF
        | 0xFFF9..=0xFFFB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_cannot_reach_the_terminal() {
        assert_eq!(terminal("a\x1b[31mred\x07"), "a\\x1b[31mred\\x07");
        assert_eq!(terminal("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(terminal("\u{9b}2J"), "\\u{009b}2J");
        assert_eq!(terminal("back\\slash"), "back\\\\slash");
        assert_eq!(terminal("JOHN-PC  ü"), "JOHN-PC  ü");
    }

    #[test]
    fn invalid_utf8_is_hex() {
        assert_eq!(bytes(b"ok\xff\x1b"), "ok\\xff\\x1b");
    }
}
