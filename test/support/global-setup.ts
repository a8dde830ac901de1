// Global test setup: shared services for every test file (filled in by the store work).
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
