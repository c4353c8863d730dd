import { createI18n } from "vue-i18n";
import type { Language } from "./bindings";
import en from "./locales/en.json";
import zhCN from "./locales/zh-CN.json";

export const LANGUAGES: readonly Language[] = ["zh-CN", "en"];

/** The language a plain browser asks for; only used outside the app. */
export function browserLanguage(): Language {
  const tag = typeof navigator === "undefined" ? "" : navigator.language.toLowerCase();
  return tag === "zh" || tag.startsWith("zh-") || tag.startsWith("zh_") ? "zh-CN" : "en";
}

export const i18n = createI18n({
  legacy: false,
  locale: "en",
  fallbackLocale: "en",
  messages: { en, "zh-CN": zhCN },
});

/** Switches the UI language and tells the document (fonts, screen readers). */
export function applyLanguage(language: Language): void {
  i18n.global.locale.value = language;
  document.documentElement.lang = language;
}
