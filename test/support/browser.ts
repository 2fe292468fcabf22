/**
 * A real Chromium for the console's browser tests: Debian's `chromium` package (never a
 * downloaded browser), driven by playwright-core. In CI a missing browser fails the tests;
 * elsewhere they skip with a printed notice.
 */
import { existsSync } from "node:fs";
import AxeBuilder from "@axe-core/playwright";
import { type Browser, chromium, type Page } from "playwright-core";

/** Where the browser is: `CHROMIUM_BIN`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

/**
 * True when the browser is installed. When it is not: throws in CI (`CI` set), else
 * prints that `what` is skipped and returns false.
 */
export function chromiumAvailable(what: string): boolean {
  if (existsSync(CHROMIUM_BIN)) return true;
  if (process.env.CI)
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_BIN} (CI needs it for ${what}): apt-get install chromium, or set CHROMIUM_BIN`,
    );
  console.warn(
    `[skip] Chromium is not installed at ${CHROMIUM_BIN}: ${what} skipped (apt-get install chromium)`,
  );
  return false;
}

/** Starts headless Chromium (without its sandbox: CI runs as root). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A serious or critical accessibility violation axe-core found, in one line. */
export interface AxeProblem {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  readonly targets: readonly string[];
}

/** Runs axe-core on the page as it is; answers the serious and critical violations. */
export async function seriousA11yProblems(page: Page): Promise<AxeProblem[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id,
      impact: v.impact ?? "",
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
}
