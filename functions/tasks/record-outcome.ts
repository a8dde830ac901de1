// Task function RecordOutcome of the workflow definition (workflows/definition.ts).
import { taskLambda } from "./lambda.ts";

export const handler = taskLambda("RecordOutcome");
