/** The doctor's report: its checks, its verdicts on the assumed rows, and the answers behind them. */
import type { RegionMode } from "../../domain/provider.ts";

export type CheckStatus = "pass" | "warn" | "fail" | "skip";
export type RowVerdict = "confirmed" | "refuted" | "unknown";

export interface DoctorCheck {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
}

/** One answer Exchange or Graph gave: its shape (for the baseline) and its redacted body. */
export interface Observation {
  key: string;
  request: string;
  status: number;
  /** Property names and JSON types of the first rows, or the error's exception type. */
  shape: Shape;
  body: string;
}

export interface Shape {
  properties?: Record<string, string>;
  rows?: number;
  error?: { status: number; exceptionType?: string; pattern?: string };
}

export interface RowResult {
  id: string;
  title: string;
  verdict: RowVerdict;
  detail: string;
  evidence: string[];
}

export interface DoctorReport {
  generatedAt: string;
  tenantId: string;
  mode: { region: RegionMode; outboundGateway: boolean };
  writeTest: boolean;
  target: { authorityHost: string; graph: string; exchange: string };
  checks: DoctorCheck[];
  rows: RowResult[];
  observations: Observation[];
  /** Shape differences from the simulator's baseline, per observation key. */
  baseline: { key: string; verdict: "same" | "differs" | "no-baseline"; detail: string }[];
  ok: boolean;
}

/** What a cmdlet the doctor ran answered: its rows or its error, and the recorded answer. */
export interface CmdletResult {
  rows?: Record<string, unknown>[];
  error?: unknown;
  observation: Observation;
}

/** The answers the verdicts are drawn from, by observation key. */
export type Answers = Record<string, CmdletResult>;
