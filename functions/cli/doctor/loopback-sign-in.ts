/**
 * The admin's browser round trip of `doctor --admin-sign-in`, on this machine: the authorize URL
 * is printed, and the redirect URI's loopback port waits for the browser to come back.
 */
import { createServer } from "node:http";

/** The doctor's sign-in comes back to this loopback URI (register it on the app as a Web redirect URI). */
export function doctorRedirectUri(env: NodeJS.ProcessEnv): string {
  return env["M365_DOCTOR_REDIRECT_URI"]?.trim() || "http://localhost:8400/doctor";
}

/**
 * The browser round trip on this machine: prints the URL, then waits (up to 10 minutes) on the
 * redirect URI's loopback port for the admin's browser to come back.
 */
export function loopbackSignIn(redirectUri: string, print: (line: string) => void) {
  return (authorizeUrl: string) =>
    new Promise<string>((resolve, reject) => {
      const target = new URL(redirectUri);
      const server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", redirectUri);
        if (url.pathname !== target.pathname) return void res.writeHead(404).end();
        res.writeHead(200, { "content-type": "text/plain" }).end("Signed in: you can close this tab.");
        clearTimeout(timer);
        server.close();
        resolve(url.toString());
      });
      const timer = setTimeout(() => {
        server.close();
        reject(new Error("no sign-in within 10 minutes"));
      }, 600_000);
      server.listen(Number(target.port || 80), target.hostname, () =>
        print(`Sign in as an Exchange admin of the test tenant: ${authorizeUrl}`),
      );
    });
}
