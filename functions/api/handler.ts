// STUB by the infra work so that the stack synthesises; the API owner replaces this file.
export const handler = async () => ({
  statusCode: 501,
  headers: { "content-type": "application/problem+json" },
  body: JSON.stringify({ type: "about:blank", title: "Not Implemented", status: 501 }),
});
