import { useI18n } from "vue-i18n";
import type { Finding } from "../bindings";
import { formatParams } from "../lib/findings";

/** The title and fix of a finding in the current language, with its values filled in. */
export function useFindingText() {
  const { t, locale } = useI18n();
  const params = (finding: Finding) => formatParams(finding.params, locale.value);
  return {
    title: (finding: Finding) => t(`finding.${finding.code}.title`, params(finding)),
    fix: (finding: Finding) => t(`finding.${finding.code}.fix`, params(finding)),
  };
}
