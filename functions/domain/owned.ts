/**
 * What this service owns in a customer's tenant and what it adopted there (objects that existed
 * before onboarding changed them): offboarding removes the first and restores the second. A
 * leaf of the domain (it imports only the Microsoft 365 object specs).
 */
import type { JournalRuleSpec, OutboundConnectorSpec } from "./m365.ts";

/** Objects this service created in the tenant (offboarding removes only these). */
export type OwnedKind = "connectors" | "groups" | "journalRules" | "members";
/**
 * Owned kinds read with the tenant (a few names each). Memberships (`members`, up to 2 x 10,000)
 * are stored apart and read with `listOwnedMembers`, never with the tenant.
 */
export type OwnedObjectKind = Exclude<OwnedKind, "members">;

/** Objects that existed before onboarding and were changed by it: their values before. */
export interface AdoptedObjects {
  connectors: Record<string, OutboundConnectorSpec & { isValidated: boolean }>;
  journalRules: Record<string, JournalRuleSpec>;
}
export type AdoptedKind = keyof AdoptedObjects;

/** Kinds whose objects' immutable identities are recorded (found again after a rename). */
export type IdentifiedKind = "journalRules" | "groups";
/** Every identified kind, in a fixed order (the stored map has one entry per kind). */
export const IDENTIFIED_KINDS: readonly IdentifiedKind[] = ["journalRules", "groups"];
/**
 * Per kind, the name the service gave an object (owned or adopted) -> the object's immutable
 * identity in Exchange (a journal rule's or a distribution group's Guid): the admin may rename
 * the object, never change this. Records written before identities were kept have none (or none
 * of a kind): their objects are found by name.
 */
export type ObjectIds = Record<IdentifiedKind, Record<string, string>>;
