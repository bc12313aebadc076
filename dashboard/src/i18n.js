// UI strings in English, French and Russian, from the JSON catalogues beside this file.
import en from "./i18n/en.json";
import fr from "./i18n/fr.json";
import ru from "./i18n/ru.json";

export const CATALOGUES = { en, fr, ru };
export const LANGUAGES = Object.keys(CATALOGUES);
const NAMES = { en: "English", fr: "Français", ru: "Русский" };

let current = "en";

export function languageName(code) {
  return NAMES[code] || code;
}

export function setLanguage(code) {
  if (!CATALOGUES[code]) {
    throw new Error(`language ${JSON.stringify(code)} is not one of ${LANGUAGES.join(", ")}`);
  }
  current = code;
  document.documentElement.lang = code;
}

export function language() {
  return current;
}

/** The text of `key` in the current language, with `{name}` placeholders filled. */
export function t(key, params = {}) {
  const text = CATALOGUES[current][key] ?? CATALOGUES.en[key];
  if (text === undefined) {
    throw new Error(`no UI string ${JSON.stringify(key)}`);
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

/** A number formatted for the current language. */
export function num(value, digits = 0) {
  return new Intl.NumberFormat(current, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

/** Re-translate every element with data-i18n (text) or data-i18n-placeholder. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  document.title = t("app.title");
}
