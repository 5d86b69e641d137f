//! The `Data:` rendering of `docs/webhooks.md`, The payload, done on the JSON text itself:
//! `serde_json::Value` would reorder nothing (with `preserve_order`) but would respell numbers
//! (`1.0`, `1e3`, 20-digit ids).

/// Longest rendering kept in the message; the payload on the run stays whole.
pub const MAX_RENDERED_BYTES: usize = 64 * 1024;

/// Renders valid JSON text (`{k: v}`, `[a, b]`, bare strings where safe), truncated past
/// [`MAX_RENDERED_BYTES`].
pub fn render_data(json: &str) -> String {
    let mut out = String::with_capacity(json.len().min(MAX_RENDERED_BYTES + 64));
    let mut walker = Walker {
        s: json.as_bytes(),
        text: json,
        i: 0,
    };
    walker.value(&mut out);
    truncate(out)
}

/// A string as a rendered value: bare when that cannot be confused with structure or forge a
/// line, JSON-quoted otherwise.
pub fn render_string(s: &str, out: &mut String) {
    if needs_quotes(s) {
        out.push_str(&serde_json::to_string(s).expect("strings serialise"));
    } else {
        out.push_str(s);
    }
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace)
        // Beyond the characters the message must escape (`,:{}[]"`, CR, LF): every control
        // character and the Unicode line separators, which some viewers also break lines at.
        || s.chars().any(|c| {
            matches!(c, ',' | ':' | '{' | '}' | '[' | ']' | '"')
                || c.is_control()
                || c == '\u{2028}'
                || c == '\u{2029}'
        })
}

fn truncate(mut out: String) -> String {
    let total = out.len();
    if total <= MAX_RENDERED_BYTES {
        return out;
    }
    let mut cut = MAX_RENDERED_BYTES;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out.push_str(&format!("… (truncated, {total} bytes)"));
    out
}

/// A cursor over JSON text that has already been validated, so it never reports errors: on
/// anything unexpected it stops, which cannot happen for valid input.
struct Walker<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Walker<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> u8 {
        self.skip_ws();
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn value(&mut self, out: &mut String) {
        match self.peek() {
            b'{' => self.container(out, b'}', true),
            b'[' => self.container(out, b']', false),
            b'"' => {
                let s = self.string();
                render_string(&s, out);
            }
            0 => {}
            _ => {
                // Numbers and literals are copied exactly as written.
                let start = self.i;
                while self.i < self.s.len()
                    && !matches!(self.s[self.i], b',' | b'}' | b']')
                    && !self.s[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                out.push_str(&self.text[start..self.i]);
            }
        }
    }

    fn container(&mut self, out: &mut String, close: u8, object: bool) {
        out.push(if object { '{' } else { '[' });
        self.i += 1;
        let mut first = true;
        loop {
            match self.peek() {
                b',' => self.i += 1,
                c if c == close || c == 0 => {
                    self.i += 1;
                    break;
                }
                _ => {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    if object {
                        let key = self.string();
                        render_string(&key, out);
                        out.push_str(": ");
                        if self.peek() == b':' {
                            self.i += 1;
                        }
                    }
                    self.value(out);
                }
            }
        }
        out.push(if object { '}' } else { ']' });
    }

    /// Decodes the string token at the cursor (which is on its opening quote).
    fn string(&mut self) -> String {
        let start = self.i;
        self.i += 1;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    break;
                }
                _ => self.i += 1,
            }
        }
        serde_json::from_str(&self.text[start..self.i.min(self.s.len())]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_key_order_and_numbers_keep_their_spelling() {
        let json = r#"{"z": 1.0, "a": 1e3, "id": 123456789012345678901234567890, "n": -0.5}"#;
        assert_eq!(
            render_data(json),
            "{z: 1.0, a: 1e3, id: 123456789012345678901234567890, n: -0.5}"
        );
    }

    #[test]
    fn the_seed_example_renders_as_documented() {
        let json = r#"{"repository":"org/repo","pr_number":42,"title":"Add user authentication"}"#;
        assert_eq!(
            render_data(json),
            "{repository: org/repo, pr_number: 42, title: Add user authentication}"
        );
    }

    #[test]
    fn arrays_literals_and_nesting() {
        assert_eq!(
            render_data(r#"[1, true, null, false, {"a": []}, {}]"#),
            "[1, true, null, false, {a: []}, {}]"
        );
    }

    #[test]
    fn strings_are_quoted_exactly_when_needed() {
        let cases = [
            (r#""plain text""#, "plain text"),
            (r#""""#, r#""""#),
            (r#""a,b""#, r#""a,b""#),
            (r#""k: v""#, r#""k: v""#),
            (r#""{x}""#, r#""{x}""#),
            (r#""[x]""#, r#""[x]""#),
            (r#""say \"hi\"""#, r#""say \"hi\"""#),
            (r#""line\nbreak""#, r#""line\nbreak""#),
            (r#""cr\rhere""#, r#""cr\rhere""#),
            (r#"" lead""#, r#"" lead""#),
            (r#""trail ""#, r#""trail ""#),
            (r#""tab\there""#, r#""tab\there""#),
            (r#""sep\u2028x""#, "\"sep\u{2028}x\""),
            (r#""ünïcødé""#, "ünïcødé"),
        ];
        for (json, want) in cases {
            assert_eq!(render_data(json), want, "{json}");
        }
        assert_eq!(render_data(r#"{"a b": 1, "": 2}"#), r#"{a b: 1, "": 2}"#);
    }

    #[test]
    fn long_renderings_are_cut_at_a_char_boundary_with_the_total() {
        let s = "é".repeat(40_000); // 80,000 bytes
        let out = render_data(&format!("\"{s}\""));
        let total = s.len();
        let suffix = format!("… (truncated, {total} bytes)");
        assert!(out.ends_with(&suffix), "{}", &out[out.len() - 40..]);
        let kept = &out[..out.len() - suffix.len()];
        assert_eq!(kept.len(), MAX_RENDERED_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
