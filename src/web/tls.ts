// HTTPS for the admin UI without an outside CA: on first start a private CA and a server
// certificate signed by it are generated (node-forge) and kept in webConfig.https.dir; later
// starts reuse them. Operators import ca.pem once into their browser instead of clicking
// through a warning per certificate. A server certificate whose names no longer match the
// configured hostnames, that expires within RENEW_DAYS, or that the CA did not sign is
// re-issued from the same CA (checked at every start), so browsers keep trusting it.
import forge from 'node-forge';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';

export interface TlsMaterial {
  key: string;
  cert: string;
  ca: string;
}

const CA_YEARS = 10;
const CERT_DAYS = 825; // the longest validity browsers accept for a server certificate
export const RENEW_DAYS = 30;
const DAY = 86_400_000;

// forge's RSA key generation is pure JavaScript and takes seconds; Node's is native
function rsaKey(): forge.pki.rsa.PrivateKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
}

function serial(): string {
  // positive, 16 random bytes: serials must be unique per CA and non-negative
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

function makeCa(now: Date) {
  const key = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + CA_YEARS * 365 * 86_400_000);
  const name = [
    { name: 'commonName', value: 'fleetboot local CA' },
    { name: 'organizationName', value: 'fleetboot' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { key, cert };
}

function makeServerCert(ca: { key: forge.pki.rsa.PrivateKey; cert: forge.pki.Certificate }, names: string[], now: Date) {
  const key = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 3600_000);
  // never past the CA's own end: a leaf outliving its issuer would not verify anyway
  cert.validity.notAfter = new Date(Math.min(now.getTime() + CERT_DAYS * DAY, ca.cert.validity.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: names[0] }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // browsers only look at subjectAltName; type 7 = IP address, 2 = DNS name
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { key, cert };
}

function certNames(c: forge.pki.Certificate): string[] {
  const san = c.getExtension('subjectAltName') as { altNames?: { ip?: string; value?: string }[] } | null;
  return (san?.altNames ?? []).map((a) => a.ip ?? a.value ?? '').sort();
}

/** Why the server certificate on disk cannot be reused, or null when it can. */
function staleReason(ca: forge.pki.Certificate, pem: string, names: string[], now: Date): string | null {
  let c: forge.pki.Certificate;
  try {
    c = forge.pki.certificateFromPem(pem);
  } catch {
    return 'unreadable';
  }
  if (JSON.stringify(certNames(c)) !== JSON.stringify([...names].sort())) return 'names changed';
  if (c.validity.notAfter.getTime() - now.getTime() < RENEW_DAYS * DAY) return 'expires soon';
  try {
    if (!ca.verify(c)) return 'not signed by this CA';
  } catch {
    return 'not signed by this CA';
  }
  return null;
}

/**
 * Loads the CA and server certificate from `dir`, creating what is missing. `names` are the
 * DNS names / IP addresses the certificate must cover (first one becomes the CN).
 */
export function ensureTls(dir: string, names: string[], now = new Date()): TlsMaterial & { created: boolean; renewed?: string; notAfter: string } {
  const uniq = [...new Set(names.filter(Boolean))];
  if (!uniq.length) uniq.push('localhost');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = { caKey: join(dir, 'ca-key.pem'), ca: join(dir, 'ca.pem'), key: join(dir, 'server-key.pem'), cert: join(dir, 'server.pem') };
  let created = false;
  let ca: { key: forge.pki.rsa.PrivateKey; cert: forge.pki.Certificate };
  if (existsSync(f.caKey) && existsSync(f.ca)) {
    ca = { key: forge.pki.privateKeyFromPem(readFileSync(f.caKey, 'utf8')) as forge.pki.rsa.PrivateKey, cert: forge.pki.certificateFromPem(readFileSync(f.ca, 'utf8')) };
  } else {
    ca = makeCa(now);
    writeFileSync(f.caKey, forge.pki.privateKeyToPem(ca.key), { mode: 0o600 });
    writeFileSync(f.ca, forge.pki.certificateToPem(ca.cert));
    created = true;
  }
  const renewed = created || !existsSync(f.key) || !existsSync(f.cert) ? undefined : staleReason(ca.cert, readFileSync(f.cert, 'utf8'), uniq, now);
  const reuse = !created && existsSync(f.key) && existsSync(f.cert) && renewed === null;
  if (!reuse) {
    const s = makeServerCert(ca, uniq, now);
    writeFileSync(f.key, forge.pki.privateKeyToPem(s.key), { mode: 0o600 });
    writeFileSync(f.cert, forge.pki.certificateToPem(s.cert));
    created = true;
  }
  const caPem = readFileSync(f.ca, 'utf8');
  const leafPem = readFileSync(f.cert, 'utf8');
  const notAfter = forge.pki.certificateFromPem(leafPem).validity.notAfter.toISOString();
  // the chain goes out with the leaf so clients that trust ca.pem can build the path
  return { key: readFileSync(f.key, 'utf8'), cert: leafPem + caPem, ca: caPem, created, notAfter, ...(renewed ? { renewed } : {}) };
}
