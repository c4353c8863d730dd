use serde::{Deserialize, Serialize};

use crate::DeviceSelection;

/// The UI languages Lectern ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Language {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Language {
    /// The language for an OS locale such as `zh_CN.UTF-8`, `zh-Hant-TW` or `en-US`:
    /// Chinese for any `zh` locale, English otherwise.
    pub fn from_locale(locale: &str) -> Self {
        let lower = locale.trim().to_ascii_lowercase();
        if lower == "zh" || lower.starts_with("zh-") || lower.starts_with("zh_") {
            Self::ZhCn
        } else {
            Self::En
        }
    }

    /// The BCP 47 tag, as the UI's i18n names its catalogs.
    pub fn tag(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }
}

/// What the teacher chose, persisted in the local database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Settings {
    /// `None` follows the OS locale.
    pub language: Option<Language>,
    pub devices: DeviceSelection,
    /// Where classes are held.
    pub relay: RelaySettings,
}

/// Where classes are held: the relay inside the app (the default), or a standalone
/// `lectern-relay` on a server, which the self-check's network probe then measures too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct RelaySettings {
    /// Base URL of a standalone relay, such as `https://relay.school.example`; `None`
    /// holds classes on the relay inside the app.
    pub url: Option<String>,
    /// That relay's token secret (its `--secret`): the console signs the class's tokens
    /// with it, as the relay's operator would.
    pub secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zh_locales_pick_chinese_and_everything_else_english() {
        for zh in ["zh", "zh-CN", "zh_CN.UTF-8", "zh-Hant-TW", "ZH-sg"] {
            assert_eq!(Language::from_locale(zh), Language::ZhCn, "{zh}");
        }
        for en in ["en-US", "de_DE.UTF-8", "C", "", "zhx"] {
            assert_eq!(Language::from_locale(en), Language::En, "{en}");
        }
    }

    #[test]
    fn settings_read_with_missing_fields() {
        let s: Settings = serde_json::from_str(r#"{"language":"zh-CN"}"#).unwrap();
        assert_eq!(s.language, Some(Language::ZhCn));
        assert_eq!(s.devices, DeviceSelection::default());
        assert_eq!(s.relay, RelaySettings::default());
    }
}
