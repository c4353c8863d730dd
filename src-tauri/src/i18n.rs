//! Finding messages for the command line and exported reports, read from the same
//! catalogs the UI uses (`ui/src/locales/*.json`), so there is one text per string.

use std::sync::OnceLock;

use lectern_proto::{Finding, Language, SelfCheckReport};
use serde::Serialize;
use serde_json::Value;

const EN: &str = include_str!("../../ui/src/locales/en.json");
const ZH_CN: &str = include_str!("../../ui/src/locales/zh-CN.json");

/// The language the OS locale asks for.
pub fn system_language() -> Language {
    sys_locale::get_locale().map_or(Language::En, |l| Language::from_locale(&l))
}

fn catalog(language: Language) -> &'static Value {
    static EN_CAT: OnceLock<Value> = OnceLock::new();
    static ZH_CAT: OnceLock<Value> = OnceLock::new();
    let (cell, text) = match language {
        Language::En => (&EN_CAT, EN),
        Language::ZhCn => (&ZH_CAT, ZH_CN),
    };
    // The catalogs are compiled in and checked by the UI's tests and ours.
    cell.get_or_init(|| serde_json::from_str(text).expect("locale catalog is valid JSON"))
}

/// The raw message at a dotted key such as `finding.mic_ok.title`, if the catalog has one.
fn lookup(language: Language, key: &str) -> Option<&'static str> {
    key.split('.')
        .try_fold(catalog(language), |v, k| v.get(k))
        .and_then(Value::as_str)
}

/// The message at a dotted key with `{name}` placeholders filled from `params`;
/// falls back to English, then to the key itself.
pub fn text(language: Language, key: &str, params: &dyn Fn(&str) -> Option<String>) -> String {
    let template = lookup(language, key)
        .or_else(|| lookup(Language::En, key))
        .unwrap_or(key);
    fill(template, params)
}

fn fill(template: &str, params: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = after[..close].trim();
                match params(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Title and fix of a finding in `language`.
pub fn finding_text(language: Language, finding: &Finding) -> (String, String) {
    let code = finding.code.as_str();
    let params = |name: &str| finding.params.get(name).map(ToString::to_string);
    (
        text(language, &format!("finding.{code}.title"), &params),
        text(language, &format!("finding.{code}.fix"), &params),
    )
}

/// A finding as written into an exported report.
#[derive(Debug, Serialize)]
pub struct FindingText {
    pub code: &'static str,
    pub severity: lectern_proto::Severity,
    pub title: String,
    pub fix: String,
}

/// The exported JSON document: the report as stored plus its messages in one language.
#[derive(Debug, Serialize)]
pub struct ExportDocument<'a> {
    pub format: &'static str,
    pub language: &'static str,
    pub verdict_text: String,
    pub messages: Vec<FindingText>,
    pub report: &'a SelfCheckReport,
}

/// Builds the export document for `report`.
pub fn export_document(report: &SelfCheckReport, language: Language) -> ExportDocument<'_> {
    let none = |_: &str| None;
    ExportDocument {
        format: "lectern.selfcheck/1",
        language: language.tag(),
        verdict_text: text(
            language,
            &format!("verdict.{}", report.verdict.as_str()),
            &none,
        ),
        messages: report
            .findings
            .iter()
            .map(|f| {
                let (title, fix) = finding_text(language, f);
                FindingText {
                    code: f.code.as_str(),
                    severity: f.severity,
                    title,
                    fix,
                }
            })
            .collect(),
        report,
    }
}

#[cfg(test)]
mod tests {
    use lectern_proto::FindingCode;

    use super::*;

    #[test]
    fn placeholders_are_filled_and_unknown_ones_kept() {
        let p = |n: &str| (n == "fps").then(|| "12".to_owned());
        assert_eq!(
            fill("at {fps} fps of {requested}", &p),
            "at 12 fps of {requested}"
        );
        assert_eq!(fill("no braces", &p), "no braces");
        assert_eq!(fill("open { brace", &p), "open { brace");
    }

    #[test]
    fn every_finding_code_has_a_title_and_fix_in_both_languages() {
        for lang in [Language::En, Language::ZhCn] {
            for code in FindingCode::ALL {
                for part in ["title", "fix"] {
                    let key = format!("finding.{}.{part}", code.as_str());
                    let found = lookup(lang, &key);
                    assert!(found.is_some_and(|t| !t.is_empty()), "{lang:?} lacks {key}");
                }
            }
        }
    }

    #[test]
    fn findings_render_with_their_numbers_in_chinese_and_english() {
        let f = Finding::new(FindingCode::CameraLowFps)
            .with("fps", 8.0)
            .with("requested", 30u32);
        for lang in [Language::En, Language::ZhCn] {
            let (title, fix) = finding_text(lang, &f);
            assert!(
                !title.contains('{') && !fix.contains('{'),
                "{title} / {fix}"
            );
            assert!(title.contains('8') || fix.contains('8'), "{title}");
        }
        assert_ne!(
            finding_text(Language::En, &f).0,
            finding_text(Language::ZhCn, &f).0
        );
    }
}
