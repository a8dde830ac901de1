/**
 * Where the functions' lines go: the form's stdout, each line prefixed with the function's
 * name, at LOG_LEVEL. Powertools' JSON lines are filtered by their `level`; the metrics' EMF
 * lines (`_aws`) show at DEBUG only; anything else (stack traces, plain prints) always shows.
 */
const LEVELS: Record<string, number> = {
  TRACE: 0,
  DEBUG: 1,
  INFO: 2,
  WARN: 3,
  ERROR: 4,
  CRITICAL: 5,
  SILENT: 6,
};

export function functionLogger(name: string, logLevel: string) {
  const threshold = LEVELS[logLevel.toUpperCase()] ?? LEVELS["INFO"]!;
  return (line: string, stream: "stdout" | "stderr") => {
    if (threshold >= LEVELS["SILENT"]!) return;
    let level = stream === "stderr" ? LEVELS["ERROR"]! : LEVELS["INFO"]!;
    if (line.startsWith("{")) {
      try {
        const parsed = JSON.parse(line) as { level?: unknown; _aws?: unknown };
        if (parsed._aws !== undefined) level = LEVELS["DEBUG"]!;
        else if (typeof parsed.level === "string") level = LEVELS[parsed.level.toUpperCase()] ?? level;
      } catch {
        // not JSON: shown as it is
      }
    }
    if (level >= threshold) process.stdout.write(`${name} | ${line}\n`);
  };
}
