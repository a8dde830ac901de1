// STUB by the infra work so that the stack synthesises; the API owner replaces this file.
// Rejects every key (API Gateway answers 401).
export const handler = async () => {
  throw new Error("Unauthorized");
};
