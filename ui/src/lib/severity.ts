import type { Severity, Verdict } from "../bindings";
import type { IconName } from "../components/AppIcon.vue";

export const SEVERITY_ICON: Record<Severity, IconName> = {
  ok: "check-circle",
  info: "info",
  warning: "alert",
  blocker: "x-circle",
};

export const VERDICT_ICON: Record<Verdict, IconName> = {
  ready: "check-circle",
  ready_with_warnings: "alert",
  not_ready: "x-circle",
};
