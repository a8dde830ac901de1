// Task function CheckDrift of the drift check workflow (workflows/definition.ts).
import { taskLambda } from "./lambda.ts";

export const handler = taskLambda("CheckDrift");
