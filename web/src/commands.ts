// The agent's command lines as the app shows them to copy (src/agent/main.c:
// `clawlink pair CODE --api URL [--name NAME]`, then `clawlink up`; the
// relay's installer, deploy/install.sh). One place, so the docs page and
// the pairing dialog never disagree.

// A word for a POSIX shell: as is when plain, else in single quotes.
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9._@%+=:,\/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
}

// Pairing sets the device's name to NAME, the host name by default: the
// command passes the name given here so it stays.
export function pairCommand(code: string, name?: string): string {
  const n = name ? ` --name ${shellQuote(name)}` : "";
  return `clawlink pair ${code} --api ${location.origin}/functions/v1${n}`;
}

// The one line that installs the agent on a new machine, pairs it and
// starts it as a service: the relay's /install.sh, the code as an argument
// on that machine (never in a URL).
export function installCommand(code: string, name?: string): string {
  const n = name ? ` --name ${shellQuote(name)}` : "";
  return `curl -fsSL ${location.origin}/install.sh | sh -s -- ${code}${n}`;
}
