/** Parsers of command-line arguments shared by the commands (commander's argParser). */
import { InvalidArgumentError } from "commander";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function intIn(min: number, max: number) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`Must be an integer from ${min} to ${max}.`);
    }
    return Number(value);
  };
}

export function parseLimit(value: string): number {
  return intIn(1, 100)(value);
}

export function parseGuid(value: string): string {
  if (!GUID.test(value)) throw new InvalidArgumentError("Must be a tenant id (a GUID).");
  return value.toLowerCase();
}

export function parseDeliveryId(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(value)) throw new InvalidArgumentError("Not a delivery id.");
  return value;
}
