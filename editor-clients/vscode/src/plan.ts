/**
 * "Counterpoint: Plan a Feature…" without `vscode`: the `counterpoint.plan` argument (the request, the
 * workspace folder, optionally where to write), the check of what the person typed, and the one line
 * said once the director has written the spec (the server opens it with window/showDocument).
 */
import type { ExecuteCommand } from "./commands";
import { type CounterpointEvent, PLAN_ID_PREFIX, SERVER_COMMANDS, type PlanResult } from "./protocol";

export const PLAN_PROMPT = "What should the agents build? The director writes a spec you review before anything runs.";
export const PLAN_PLACEHOLDER = "Build a course enrollment feature";

export function planCommand(request: string, folder?: string, out?: string): ExecuteCommand {
  const args: Record<string, unknown> = { request: request.trim() };
  if (folder) args.folder = folder;
  if (out) args.out = out;
  return { command: SERVER_COMMANDS.plan, arguments: [args] };
}

/** Why the typed request cannot be sent (undefined: it can). */
export function requestProblem(request: string): string | undefined {
  if (!request.trim()) return "Say in one sentence what to build.";
  if (request.length > 20000) return "Keep the request under 20,000 characters.";
  return undefined;
}

/** `counterpoint.plan`'s result, if it is one. */
export function planResultOf(result: unknown): PlanResult | undefined {
  if (!result || typeof result !== "object") return undefined;
  const r = result as Record<string, unknown>;
  if (typeof r.planId !== "string" || typeof r.uri !== "string" || typeof r.ok !== "boolean") return undefined;
  return result as PlanResult;
}

/** The line shown once the spec is written: what, whether it passes check, the predicted speed-up. */
export function planMessage(result: PlanResult): { text: string; warning: boolean } {
  const parts = [`Counterpoint: ${result.message || `wrote ${result.path}`}`];
  const prediction = result.prediction;
  if (prediction && prediction.critical_path && prediction.critical_path.length) {
    const speedup = typeof prediction.speedup === "number" ? prediction.speedup.toFixed(2) : "?";
    parts.push(`critical path ${prediction.critical_path.join(" → ")}, predicted speed-up ${speedup}x`);
  }
  return { text: parts.join("; "), warning: !result.ok };
}

/** A plan's event (plan_started, the director's tool calls...): shown as progress, never a run. */
export function isPlanEvent(event: CounterpointEvent): boolean {
  return event.run_id.startsWith(PLAN_ID_PREFIX);
}
