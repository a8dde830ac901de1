// Task function ValidateConnector of the workflow definition (workflows/definition.ts).
import { taskLambda } from "./lambda.ts";

export const handler = taskLambda("ValidateConnector");
