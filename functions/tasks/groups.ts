// STUB by the infra work so that the stack synthesises; its owner replaces this file.
export const handler = async () => {
  throw new Error("Not implemented");
};
