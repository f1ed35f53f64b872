/** Who is asking, as authentication established it. */
export interface Identity {
  /** The stable subject (the OIDC `sub`, or what the app's hook returned). */
  subject: string;
  /** The verified token's claims (OIDC), or what the app's hook returned; `{}` otherwise. */
  claims: Record<string, unknown>;
}
