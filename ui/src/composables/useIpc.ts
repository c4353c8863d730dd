import { ref } from "vue";
import { commands, type ApiError, type Result } from "../bindings";
import { inTauri } from "../lib/env";
import { toApiError } from "../lib/errors";

/** The data of an ok Result; throws the ApiError of an error one. */
export function unwrap<T>(result: Result<T, ApiError>): T {
  if (result.status === "error") throw result.error;
  return result.data;
}

/**
 * Access to the back end for one component: whether it is there at all, and a way
 * to run a command that records its error (as an ApiError) instead of throwing.
 */
export function useIpc() {
  const available = inTauri();
  const error = ref<ApiError | null>(null);
  const pending = ref(false);

  async function attempt<T>(task: () => Promise<T>): Promise<T | undefined> {
    if (!available) return undefined;
    pending.value = true;
    error.value = null;
    try {
      return await task();
    } catch (e) {
      error.value = toApiError(e);
      return undefined;
    } finally {
      pending.value = false;
    }
  }

  return { available, commands, error, pending, attempt };
}
