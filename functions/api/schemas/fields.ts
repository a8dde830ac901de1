/** Building blocks the resource schemas share; the API's schema index does not export them. */
import * as z from "zod";
import { nameProblem, normalizeName } from "../../domain/names.ts";

/**
 * A name the service stores and shows (partner, group): taken in NFC, then held to the one
 * rule for names (functions/domain/names.ts), which keeps a name from displaying as another.
 */
export const StoredName = (max: number) =>
  z
    .string()
    .overwrite(normalizeName)
    .min(1)
    .max(max)
    .check((ctx) => {
      const problem = nameProblem(ctx.value);
      if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
    });
export const PRINTABLE_NAME_ERROR =
  "Must not contain control or invisible formatting characters (bidi, zero-width)";
export const NO_CONTROL_OR_FORMAT = /^[^\p{Cc}\p{Cf}]*$/u;

export const Timestamp = z.iso.datetime({ offset: true });

/** JSON values as cmdlet parameters and compared fields carry them. */
export const JsonValue = z.unknown().meta({ description: "Any JSON value." });
