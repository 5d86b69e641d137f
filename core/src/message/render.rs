//! The `Data:` rendering of `docs/webhooks.md`, The payload, done on the JSON text itself:
//! `serde_json::Value` would reorder nothing (with `preserve_order`) but would respell numbers
//! (`1.0`, `1e3`, 20-digit ids).

/// Longest rendering kept in the message; the payload on the run stays whole.
pub const MAX_RENDERED_BYTES: usize = 64 * 1024;

/// Renders valid JSON text (`{k: v}`, `[a, b]`, bare strings where safe), truncated past
/// [`MAX_RENDERED_BYTES`].
///
/// Valid JSON renders token by token — structure, separators, strings and literals each map to
/// their rendering without looking at what encloses them — so the walk keeps no stack and is
/// safe at any depth (a recursive walk overflowed at ~27,500 levels and aborted the process).
pub fn render_data(json: &str) -> String {
    let mut out = String::with_capacity(json.len().min(MAX_RENDERED_BYTES + 64));
    let mut tokens = Tokens {
        s: json.as_bytes(),
        text: json,
        i: 0,
    };
    while let Some(token) = tokens.next_token() {
        match token {
            Token::Punct(b',') => out.push_str(", "),
            Token::Punct(b':') => out.push_str(": "),
            Token::Punct(c) => out.push(char::from(c)),
            Token::String(s) => render_string(&s, &mut out),
            // Numbers and literals are copied exactly as written.
            Token::Literal(text) => out.push_str(text),
        }
    }
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

enum Token<'a> {
    /// `{`, `}`, `[`, `]`, `,` or `:`.
    Punct(u8),
    String(String),
    Literal(&'a str),
}

/// A cursor over JSON text that has already been validated, so it never reports errors: on
/// anything unexpected it stops, which cannot happen for valid input.
struct Tokens<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Tokens<'a> {
    fn next_token(&mut self) -> Option<Token<'a>> {
        while self.s.get(self.i)?.is_ascii_whitespace() {
            self.i += 1;
        }
        let c = self.s[self.i];
        Some(match c {
            b'{' | b'}' | b'[' | b']' | b',' | b':' => {
                self.i += 1;
                Token::Punct(c)
            }
            b'"' => Token::String(self.string()),
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && !matches!(self.s[self.i], b',' | b'}' | b']' | b':')
                    && !self.s[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                Token::Literal(&self.text[start..self.i])
            }
        })
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
    fn any_depth_renders_without_recursion() {
        let json = format!("{{\"a\": {}{}}}", "[".repeat(30_000), "]".repeat(30_000));
        let out = render_data(&json);
        assert!(
            out.starts_with("{a: [[[") && out.ends_with("]]]}"),
            "{}",
            &out[..20]
        );
        assert_eq!(
            render_data(r#"{"a": {"b": [1, {"c": "d"}]}}"#),
            "{a: {b: [1, {c: d}]}}"
        );
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
