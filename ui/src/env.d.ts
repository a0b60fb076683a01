declare module 'virtual:privileges' {
  /** Each operationId's x-vpnsvc-privileges in openapi.yaml. */
  const privileges: Record<string, string[]>;
  export default privileges;
}
