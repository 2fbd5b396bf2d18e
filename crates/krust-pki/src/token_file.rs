//! Static bearer tokens, in the CSV format of kube-apiserver's `--token-auth-file`.
//!
//! Each line is `token,user,uid` optionally followed by a groups field, usually quoted because
//! it holds a comma-separated list: `s3cr3t,alice,1001,"dev,ops"`. Blank lines and lines whose
//! first non-blank character is `#` are skipped. Like upstream, a line with an empty token is
//! skipped with a warning and a repeated token replaces the earlier line.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Identity, PkiError};

/// The tokens of one file, ready for [`TokenFile::lookup`].
pub struct TokenFile {
    path: PathBuf,
    entries: Vec<Entry>,
}

/// One token, kept only as its SHA-256 so lookups compare fixed-length values.
struct Entry {
    digest: [u8; 32],
    identity: Identity,
}

impl fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print tokens (or their hashes).
        f.debug_struct("TokenFile")
            .field("path", &self.path)
            .field("tokens", &self.entries.len())
            .finish()
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

/// Compares without stopping at the first difference, so timing says nothing about how much of
/// a guessed token was right.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl TokenFile {
    /// Reads and parses the token file at `path`.
    pub fn load(path: &Path) -> Result<TokenFile, PkiError> {
        let text = std::fs::read_to_string(path).map_err(|e| PkiError::io("reading token file", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses token file contents; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<TokenFile, PkiError> {
        let mut entries: Vec<Entry> = Vec::new();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let bad = |reason: String| PkiError::TokenFile {
                path: path.into(),
                line: line_no,
                reason,
            };
            let fields = split_csv_line(line).map_err(bad)?;
            if fields.len() < 3 {
                return Err(bad(format!(
                    "expected at least 3 fields (token,user,uid), found {}",
                    fields.len()
                )));
            }
            let (token, user, uid) = (&fields[0], &fields[1], &fields[2]);
            if token.is_empty() {
                tracing::warn!(path = %path.display(), line = line_no, "token file line has an empty token; skipping it");
                continue;
            }
            if user.is_empty() {
                return Err(bad("the user name is empty".into()));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let entry = Entry {
                digest: sha256(token.as_bytes()),
                identity: Identity::authenticated(user, uid, groups),
            };
            match entries.iter_mut().find(|e| e.digest == entry.digest) {
                Some(earlier) => {
                    tracing::warn!(path = %path.display(), line = line_no, "token appears again; this line replaces the earlier one");
                    *earlier = entry;
                }
                None => entries.push(entry),
            }
        }
        Ok(TokenFile {
            path: path.into(),
            entries,
        })
    }

    /// The identity `token` belongs to, if any.
    ///
    /// Every entry is compared, each in constant time, so the answer's timing does not depend on
    /// where (or whether) the token is in the file.
    pub fn lookup(&self, token: &str) -> Option<Identity> {
        let wanted = sha256(token.as_bytes());
        let mut found = None;
        for entry in &self.entries {
            if constant_time_eq(&entry.digest, &wanted) {
                found = Some(&entry.identity);
            }
        }
        found.cloned()
    }

    /// How many tokens the file holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds no token at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Splits one CSV line into fields, RFC 4180 style: a field may be double-quoted, may then hold
/// commas, and writes a quote as `""`. Blanks around fields are dropped.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut field = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(format!("field {} has an unterminated quote", fields.len() + 1)),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => {
                    return Err(format!(
                        "unexpected {c:?} after the closing quote of field {}",
                        fields.len() + 1
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim_end().to_string());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => {
                        return Err(format!("stray quote in unquoted field {}", fields.len() + 1));
                    }
                    Some(c) => field.push(c),
                }
            }
            fields.push(field.trim_end().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::AUTHENTICATED_GROUP;

    fn parse(text: &str) -> Result<TokenFile, PkiError> {
        TokenFile::parse(text, Path::new("tokens.csv"))
    }

    fn groups(id: &Identity) -> Vec<&str> {
        id.groups.iter().map(String::as_str).collect()
    }

    #[test]
    fn splits_quoted_and_plain_fields() {
        assert_eq!(split_csv_line("a,b,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_csv_line(r#"a, b ,c,"x,y""#).unwrap(),
            ["a", "b", "c", "x,y"]
        );
        assert_eq!(split_csv_line(r#""a""b",,"""#).unwrap(), [r#"a"b"#, "", ""]);
        assert_eq!(
            split_csv_line(r#"a,b,c, "g1, g2" "#).unwrap(),
            ["a", "b", "c", "g1, g2"]
        );
        assert_eq!(split_csv_line("a,b,").unwrap(), ["a", "b", ""]);
        assert!(split_csv_line(r#"a,"b"#).is_err());
        assert!(split_csv_line(r#"a,"b"c"#).is_err());
        assert!(split_csv_line(r#"a,b"c"#).is_err());
    }

    #[test]
    fn parses_upstream_format() {
        let file = parse(
            "# static tokens\n\
             \n\
             tok-admin,admin,1,\"system:masters,dev\"\n\
             tok-bob,bob,2\r\n\
             \x20 # indented comment\n\
             tok-carol,carol,,\"\"\n\
             tok-dave,dave,4,single\n",
        )
        .unwrap();
        assert_eq!(file.len(), 4);

        let admin = file.lookup("tok-admin").unwrap();
        assert_eq!((admin.user.as_str(), admin.uid.as_str()), ("admin", "1"));
        assert_eq!(groups(&admin), ["system:masters", "dev", AUTHENTICATED_GROUP]);
        assert_eq!(groups(&file.lookup("tok-bob").unwrap()), [AUTHENTICATED_GROUP]);
        let carol = file.lookup("tok-carol").unwrap();
        assert_eq!(
            (carol.uid.as_str(), groups(&carol)),
            ("", vec![AUTHENTICATED_GROUP])
        );
        assert_eq!(
            groups(&file.lookup("tok-dave").unwrap()),
            ["single", AUTHENTICATED_GROUP]
        );
    }

    #[test]
    fn lookup_misses_unknown_and_near_tokens() {
        let file = parse("secret,alice,1\n").unwrap();
        for wrong in ["", "secre", "secret ", "Secret", "secretx"] {
            assert!(file.lookup(wrong).is_none(), "{wrong:?} matched");
        }
        assert!(file.lookup("secret").is_some());
    }

    #[test]
    fn invalid_lines_name_their_number() {
        for (text, line) in [
            ("a,b,c\n\nonly,two\n", 3),
            ("# c\nt,u,1,\"g1,g2\n", 2),
            ("t,,1\n", 1),
            ("t,u,1\nx,y\"z\",1\n", 2),
        ] {
            match parse(text) {
                Err(PkiError::TokenFile { line: got, .. }) => assert_eq!(got, line, "{text:?}"),
                other => panic!("{text:?}: expected a token file error, got {other:?}"),
            }
        }
        let err = parse("one\n").unwrap_err().to_string();
        assert!(
            err.contains("tokens.csv") && err.contains("line 1") && err.contains("3 fields"),
            "{err}"
        );
    }

    #[test]
    fn empty_token_is_skipped_and_duplicates_replace() {
        let file = parse(",ghost,0\nt,first,1\nt,second,2\n").unwrap();
        assert_eq!(file.len(), 1);
        assert_eq!(file.lookup("t").unwrap().user, "second");
        assert!(file.lookup("").is_none());
    }

    #[test]
    fn empty_file_and_missing_file() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\u{feff}# only a comment\n").unwrap().is_empty());
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        assert!(matches!(TokenFile::load(&missing), Err(PkiError::Io { .. })));
        let present = dir.path().join("tokens.csv");
        std::fs::write(&present, "t,u,1\n").unwrap();
        assert_eq!(TokenFile::load(&present).unwrap().lookup("t").unwrap().user, "u");
    }

    #[test]
    fn debug_does_not_leak_tokens() {
        let file = parse("supersecret,alice,1\n").unwrap();
        assert!(!format!("{file:?}").contains("supersecret"));
    }
}
