//! The languages of the dashboard and the reports: zh-CN by default, English by a switch that
//! sticks (a cookie). Every label comes from one message catalogue per
//! language (`server/i18n/<lang>.toml`, compiled in); the domain terms in
//! them are the ones community offices use (docs/glossary.md).
//!
//! # Invariants
//! - Both catalogues have the same keys (a test fails otherwise), and every
//!   key a template or handler asks for is in them.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The cookie that keeps the chosen language.
pub const COOKIE: &str = "fs_lang";

/// A language of the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Every language, the default first.
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The BCP 47 tag (`<html lang>`, the cookie's value).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language a tag names; `None` for any other.
    pub fn parse(tag: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// The other language, which the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::ZhCn => Lang::En,
            Lang::En => Lang::ZhCn,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::ZhCn => include_str!("../i18n/zh-CN.toml"),
            Lang::En => include_str!("../i18n/en.toml"),
        }
    }

    fn catalogue(self) -> &'static HashMap<String, String> {
        static CATALOGUES: OnceLock<[HashMap<String, String>; 2]> = OnceLock::new();
        let all = CATALOGUES.get_or_init(|| Lang::ALL.map(|l| parse(l.source())));
        match self {
            Lang::ZhCn => &all[0],
            Lang::En => &all[1],
        }
    }
}

/// A catalogue's text, its nested tables flattened to dotted keys. It is
/// compiled in and checked by the tests, so a malformed one is a bug of the
/// build, not of input.
fn parse(source: &str) -> HashMap<String, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::String(s) => {
                    out.insert(key, s.clone());
                }
                toml::Value::Table(t) => walk(&key, t, out),
                other => panic!("catalogue key {key} holds {other:?}, not text"),
            }
        }
    }
    let table: toml::Table = source.parse().expect("the compiled-in catalogue parses");
    let mut out = HashMap::new();
    walk("", &table, &mut out);
    out
}

/// Marks a catalogue key chosen in code rather than looked up on the spot,
/// so the tests can check it exists.
pub const fn tr_key(key: &'static str) -> &'static str {
    key
}

/// The wording of one language, for templates and handlers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    /// The text of `key`. A key missing from the catalogue shows as itself
    /// (the tests keep that from shipping).
    pub fn get<'a>(&self, key: &'a str) -> &'a str {
        match self.lang.catalogue().get(key) {
            Some(text) => text.as_str(),
            None => {
                tracing::warn!(key, lang = self.lang.tag(), "missing catalogue key");
                key
            }
        }
    }

    /// The text of `key` with each `{name}` replaced by its value.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The text of `key` with its one `{name}` replaced by `value`: the
    /// templates' shorthand for [`Tr::fill`].
    pub fn with(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        self.fill(key, &[(name, &value.to_string())])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(lang: Lang) -> BTreeSet<String> {
        lang.catalogue().keys().cloned().collect()
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let zh = keys(Lang::ZhCn);
        let en = keys(Lang::En);
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(
            only_zh.is_empty() && only_en.is_empty(),
            "missing in English: {only_zh:?}; missing in Chinese: {only_en:?}"
        );
        for lang in Lang::ALL {
            for (k, v) in lang.catalogue() {
                assert!(!v.trim().is_empty(), "{} {k} is empty", lang.tag());
            }
        }
    }

    /// Every `t.get("…")`, `t.fill("…"`, `t.with("…"` and `tr_key("…")` in the templates and
    /// the dashboard's and the reports' code names a key of the catalogues.
    #[test]
    fn every_key_in_use_is_in_the_catalogues() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates/web", "src/web", "src/reports"] {
            collect(&root.join(dir), &mut sources);
        }
        assert!(sources.len() > 3, "found the sources: {sources:?}");
        let zh = keys(Lang::ZhCn);
        let mut used = 0;
        // This file names the lookups; it uses no keys.
        sources.retain(|p| !p.ends_with("i18n.rs"));
        for path in &sources {
            let text = std::fs::read_to_string(path).unwrap();
            for key in keys_in(&text) {
                used += 1;
                assert!(
                    zh.contains(&key),
                    "{}: key {key:?} is in no catalogue",
                    path.display()
                );
            }
        }
        assert!(used > 10, "found the keys in use ({used})");
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// The string literals passed to the catalogue lookups in `text`.
    fn keys_in(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for call in ["t.get(\"", "t.fill(\"", "t.with(\"", "tr_key(\""] {
            for (i, _) in text.match_indices(call) {
                let rest = &text[i + call.len()..];
                if let Some(end) = rest.find('"') {
                    out.push(rest[..end].to_owned());
                }
            }
        }
        out
    }

    #[test]
    fn placeholders_are_filled() {
        let t = Tr { lang: Lang::En };
        assert_eq!(
            t.fill("login.locked", &[("seconds", "30")]),
            "Too many failed sign-ins; try again in 30 s"
        );
        assert_eq!(Tr::default().get("hazard.state.closed"), "已销号");
        assert_eq!(t.get("no.such.key"), "no.such.key");
    }
}
