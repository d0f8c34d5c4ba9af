//! Text that others wrote (task logs, service events, stop reasons, API and registry messages,
//! signature annotations) on its way to the job's log: data, never terminal commands. Every
//! relayed string goes through [`escape`] or [`lines`], so a container cannot move the cursor,
//! erase or overwrite a line (`\r`, CSI), write the clipboard (OSC 52), ring the bell, or start
//! a line of its own that reads like stevedore's verdict.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as it is: C0 controls but tab, DEL, C1 controls, the
/// Unicode line and paragraph separators, and the bidirectional overrides and isolates (which
/// reorder what a reader sees, "Trojan Source").
fn hostile(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every hostile character as a visible escape: `\x1b`, `\r`, `\n`, `\x00`, `\u0085`,
/// `\u202e`. A backslash stays as it is: the escapes are for a reader, not to be parsed back.
/// Pure; borrows when there is nothing to escape.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if hostile(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if hostile(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A relayed text of several lines as its lines, each escaped: for a caller that prints each
/// behind a prefix (`container| `), so a message with embedded newlines never starts a line of
/// its own. `\r\n` ends a line as `\n` does; a trailing newline adds no empty line.
pub fn split_lines(s: &str) -> Vec<String> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.split('\n')
        .map(|l| escape(l.strip_suffix('\r').unwrap_or(l)).into_owned())
        .collect()
}

/// [`split_lines`], each line behind `prefix`, joined by newlines.
pub fn lines(prefix: &str, s: &str) -> String {
    split_lines(s)
        .iter()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// For `#[serde(deserialize_with = "…")]` on a string field of an API answer: the value escaped
/// as it is read, so no later use can print it raw.
pub fn de_escaped<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    Ok(escape(&s).into_owned())
}

/// [`de_escaped`] for an optional string.
pub fn de_escaped_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(s.map(|s| escape(&s).into_owned()))
}

/// A text for one cell or line of Markdown (`summary.md`): escaped as [`escape`] does, with
/// Markdown's and HTML's active characters as entities or backslash escapes, so a relayed
/// string cannot add a link, an image, a table column or markup.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape(s).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '[' | ']' | '(' | ')' | '*' | '_' | '`' | '!' | '#' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_commands_become_visible_escapes() {
        assert_eq!(escape("plain text\twith a tab"), "plain text\twith a tab");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        // OSC 52 clipboard write, cursor up + erase line, carriage return, NUL, BEL, C1 NEL.
        assert_eq!(
            escape("\u{1b}]52;c;ZXZpbA==\u{7}"),
            "\\x1b]52;c;ZXZpbA==\\x07"
        );
        assert_eq!(escape("\u{1b}[1A\u{1b}[2K"), "\\x1b[1A\\x1b[2K");
        assert_eq!(escape("ok\rdeployed"), "ok\\rdeployed");
        assert_eq!(escape("a\0b\u{85}c\u{9b}d"), "a\\x00b\\u0085c\\u009bd");
        assert_eq!(
            escape("x\u{202e}y\u{2028}z\u{7f}"),
            "x\\u202ey\\u2028z\\x7f"
        );
        assert_eq!(escape("one\ntwo"), "one\\ntwo");
    }

    #[test]
    fn every_line_of_a_relayed_text_keeps_its_prefix() {
        assert_eq!(
            lines("m| ", "one\ntwo\r\nthree\n"),
            "m| one\nm| two\nm| three"
        );
        assert_eq!(lines("m| ", ""), "m| ");
        assert_eq!(
            lines("m| ", "x\n\u{1b}[2Kdeployed web"),
            "m| x\nm| \\x1b[2Kdeployed web"
        );
    }

    #[test]
    fn markdown_cannot_add_links_or_markup() {
        assert_eq!(
            markdown("[click](https://evil) <img src=x> | a"),
            "\\[click\\]\\(https://evil\\) &lt;img src=x&gt; \\| a"
        );
    }
}
