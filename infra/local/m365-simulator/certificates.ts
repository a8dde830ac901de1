/**
 * Certificates for the simulator: its own CA (ECDSA P-256, made in milliseconds), a server
 * certificate for 127.0.0.1/localhost, an optional RSA client certificate for
 * ClientCertificateCredential, and in-process trust of the CA.
 */
import "reflect-metadata";
import { createHash, X509Certificate as NodeX509 } from "node:crypto";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
} as const;
const DAY = 86_400_000;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

function serial(): string {
  // Positive, non-zero 16-byte serial number.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString("hex");
}

async function exportKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

async function importEcKey(keyPem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(keyPem);
  return crypto.subtle.importKey("pkcs8", der, EC, true, ["sign"]);
}

/** A CA that issues the simulator's server certificate. Pass `existing` to keep one across restarts. */
export async function createCertificateAuthority(existing?: PemPair): Promise<CertificateAuthority> {
  if (existing) {
    const cert = new x509.X509Certificate(existing.certPem);
    if (cert.notAfter.getTime() - Date.now() > DAY) {
      const privateKey = await importEcKey(existing.keyPem);
      return new CertificateAuthority(cert, privateKey, existing);
    }
  }
  const keys = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=Journal onboarding M365 simulator CA, O=Local development",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * DAY),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return new CertificateAuthority(cert, keys.privateKey, {
    certPem: cert.toString("pem"),
    keyPem: await exportKey(keys.privateKey),
  });
}

export class CertificateAuthority {
  readonly #cert: x509.X509Certificate;
  readonly #key: CryptoKey;
  /** The CA certificate and key as PEM (the key stays on this machine, in `dataDir` at most). */
  readonly pem: PemPair;
  constructor(cert: x509.X509Certificate, key: CryptoKey, pem: PemPair) {
    this.#cert = cert;
    this.#key = key;
    this.pem = pem;
  }

  /** A TLS server certificate for the given DNS names and IP addresses, valid 30 days. */
  async issueServerCertificate(hosts: { dns: string[]; ip: string[] }): Promise<PemPair> {
    const keys = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${hosts.ip[0] ?? hosts.dns[0] ?? "localhost"}`,
      issuer: this.#cert.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 30 * DAY),
      signingKey: this.#key,
      publicKey: keys.publicKey,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          ...hosts.ip.map((value) => ({ type: "ip" as const, value })),
          ...hosts.dns.map((value) => ({ type: "dns" as const, value })),
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(this.#cert),
      ],
    });
    return { certPem: cert.toString("pem"), keyPem: await exportKey(keys.privateKey) };
  }
}

/** A self-signed RSA certificate for the app (what ClientCertificateCredential signs with). */
export async function createClientCertificate(
  subject: string,
): Promise<PemPair & { thumbprintSha1: string; thumbprintSha256: string }> {
  const keys = await crypto.subtle.generateKey(RSA, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${subject}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * DAY),
    keys,
    signingAlgorithm: RSA,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const raw = Buffer.from(cert.rawData);
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportKey(keys.privateKey),
    thumbprintSha1: createHash("sha1").update(raw).digest("hex"),
    thumbprintSha256: createHash("sha256").update(raw).digest("hex"),
  };
}

/** SHA-1 and SHA-256 thumbprints (hex) of a PEM certificate. */
export function thumbprints(certPem: string): { sha1: string; sha256: string } {
  const raw = new NodeX509(certPem).raw;
  return {
    sha1: createHash("sha1").update(raw).digest("hex"),
    sha256: createHash("sha256").update(raw).digest("hex"),
  };
}

/**
 * Makes every TLS client of this process (fetch/undici, https, @azure/identity) trust `caPem`
 * on top of what it trusts already: the in-process equivalent of NODE_EXTRA_CA_CERTS, which
 * Node reads only at startup. Connections opened before the call keep their old trust.
 */
export function trustCertificate(caPem: string): void {
  const fingerprint = new NodeX509(caPem).fingerprint256;
  const current = tls.getCACertificates("default");
  if (current.some((pem) => safeFingerprint(pem) === fingerprint)) return;
  tls.setDefaultCACertificates([...current, caPem]);
}

function safeFingerprint(pem: string): string | undefined {
  try {
    return new NodeX509(pem).fingerprint256;
  } catch {
    return undefined;
  }
}
