// asl-validator ships JavaScript without declarations.
declare module "asl-validator" {
  const validate: (definition: unknown) => Promise<{ isValid: boolean; errors: unknown[] }>;
  export default validate;
}
