/**
 * The ops key: OPS_API_KEY, else one generated once (`jops_...`) and kept in DATA_DIR. A key
 * kept by an earlier version (`jok_...`, the partner prefix) is still accepted as it is.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { generateOpsKey } from "../../../functions/domain/api-keys.ts";
import { keptSecret } from "./data-dir.ts";

export async function opsKeyOf(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): Promise<{ opsApiKey: string; generated: boolean }> {
  const keyFile = join(dataDir, "ops-api-key");
  const generated = !env["OPS_API_KEY"] && !existsSync(keyFile);
  const opsApiKey = env["OPS_API_KEY"] ?? (await keptSecret(keyFile, generateOpsKey));
  return { opsApiKey, generated };
}
