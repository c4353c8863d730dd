// The student page's language: the one chosen here before, else the browser's.

import type { Language } from "../bindings";
import { applyLanguage, browserLanguage, LANGUAGES } from "../i18n";

const KEY = "lectern.student.language";

export function initialLanguage(): Language {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved && (LANGUAGES as readonly string[]).includes(saved)) return saved as Language;
  } catch {
    // Storage is off (private mode, an in-app browser): use the browser's language.
  }
  return browserLanguage();
}

export function chooseLanguage(language: Language): void {
  applyLanguage(language);
  try {
    localStorage.setItem(KEY, language);
  } catch {
    // Not remembered; the choice still holds for this visit.
  }
}
