import { reactive, ref } from "vue";
import { commands, type ApiError, type DeviceSelection, type Language, type RelaySettings, type Settings } from "../bindings";
import { applyLanguage, browserLanguage, i18n } from "../i18n";
import { inTauri } from "../lib/env";
import { toApiError } from "../lib/errors";
import { useToast } from "./useToast";

const settings = reactive<Settings>({
  language: null,
  devices: { camera: null, microphone: null, speaker: null },
  relay: { url: null, secret: null },
});
const language = ref<Language>("en");
const loaded = ref(false);

async function save(): Promise<void> {
  if (!inTauri()) return;
  const snapshot: Settings = { language: settings.language, devices: { ...settings.devices }, relay: { ...settings.relay } };
  let failure: unknown = null;
  try {
    const result = await commands.saveSettings(snapshot);
    if (result.status === "error") failure = result.error;
  } catch (e) {
    failure = e;
  }
  if (failure !== null) {
    const error = toApiError(failure);
    const { t } = i18n.global;
    useToast().show("error", t(`error.${error.code}`), error.message);
  }
}

/** Reads the saved settings and picks the language: saved choice, else the system's. */
async function load(): Promise<void> {
  if (!inTauri()) {
    language.value = browserLanguage();
    applyLanguage(language.value);
    loaded.value = true;
    return;
  }
  try {
    const result = await commands.getSettings();
    if (result.status === "ok") {
      settings.language = result.data.language;
      Object.assign(settings.devices, result.data.devices);
      Object.assign(settings.relay, result.data.relay);
    }
  } catch {
    // Fall through to the system language; the settings stay at their defaults.
  }
  let chosen = settings.language;
  if (chosen === null) {
    try {
      chosen = await commands.systemLanguage();
    } catch {
      chosen = browserLanguage();
    }
  }
  language.value = chosen;
  applyLanguage(chosen);
  loaded.value = true;
}

async function setLanguage(next: Language): Promise<void> {
  language.value = next;
  settings.language = next;
  applyLanguage(next);
  await save();
}

async function setDevice(kind: keyof DeviceSelection, id: string | null): Promise<void> {
  settings.devices[kind] = id;
  await save();
}

/**
 * Saves where classes are held; resolves to the error when the relay settings are
 * refused (a bad URL, a missing secret), leaving the saved ones as they were.
 */
async function setRelay(next: RelaySettings): Promise<ApiError | null> {
  if (!inTauri()) return null;
  const snapshot: Settings = { language: settings.language, devices: { ...settings.devices }, relay: { ...next } };
  try {
    const result = await commands.saveSettings(snapshot);
    if (result.status === "error") return result.error;
  } catch (e) {
    return toApiError(e);
  }
  Object.assign(settings.relay, next);
  return null;
}

/** The teacher's saved choices, shared by the whole app. */
export function useSettings() {
  return { settings, language, loaded, load, setLanguage, setDevice, setRelay };
}
