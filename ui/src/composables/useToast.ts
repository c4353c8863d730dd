import { ref } from "vue";

export interface Toast {
  id: number;
  kind: "success" | "error";
  text: string;
  detail?: string;
}

const current = ref<Toast | null>(null);
let nextId = 1;
let timer: ReturnType<typeof setTimeout> | undefined;

function dismiss(): void {
  clearTimeout(timer);
  current.value = null;
}

/** Shows a short message at the bottom of the window; one at a time. */
function show(kind: Toast["kind"], text: string, detail?: string, ms = 8000): void {
  clearTimeout(timer);
  current.value = { id: nextId++, kind, text, detail };
  timer = setTimeout(dismiss, ms);
}

export function useToast() {
  return { toast: current, show, dismiss };
}
