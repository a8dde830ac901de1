// The task function of both workflows (workflows/definition.ts): routes by the payload's `task`.
import { taskLambda } from "./lambda.ts";

export const handler = taskLambda();
