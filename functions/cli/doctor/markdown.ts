/** The doctor's report as Markdown, for a person and for a bug report. */
import type { DoctorReport } from "./report.ts";

export function renderDoctorMarkdown(r: DoctorReport): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  const lines = [
    "# Journal onboarding doctor report",
    "",
    `- Generated: ${r.generatedAt}`,
    `- Tenant: ${r.tenantId}`,
    `- Endpoints: ${r.target.authorityHost}, ${r.target.graph}, ${r.target.exchange}`,
    `- Mode checked: ${r.mode.region}${r.mode.outboundGateway ? " with outbound connector" : ""}; write test: ${r.writeTest ? "yes" : "no (read-only)"}`,
    `- Result: ${r.ok ? "**ok**" : "**problems found**"}`,
    "",
    "## Checks",
    "",
    "| check | status | detail |",
    "|---|---|---|",
    ...r.checks.map((c) => `| ${esc(c.title)} | ${c.status} | ${esc(c.detail)} |`),
    "",
    "## Assumed rows of docs/m365-fidelity.md",
    "",
    "| row | behaviour | verdict | detail |",
    "|---|---|---|---|",
    ...r.rows.map((x) => `| ${x.id} | ${esc(x.title)} | ${x.verdict} | ${esc(x.detail)} |`),
    "",
    "## Answer shapes compared with the simulator",
    "",
    "| answer | verdict | detail |",
    "|---|---|---|",
    ...r.baseline.map((b) => `| ${esc(b.key)} | ${b.verdict} | ${esc(b.detail)} |`),
    "",
    "## Raw answers (tokens and e-mail addresses removed)",
    "",
    ...r.observations.flatMap((o) => [
      `### ${o.key}`,
      "",
      `\`${o.request}\` -> HTTP ${o.status}`,
      "",
      "```json",
      o.body.slice(0, 4_000),
      "```",
      "",
    ]),
  ];
  return `${lines.join("\n")}\n`;
}
