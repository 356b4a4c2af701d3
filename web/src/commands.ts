// The agent's command lines as the app shows them to copy (src/agent/main.c:
// `clawlink pair CODE --api URL [--name NAME]`, then `clawlink up`). One
// place, so the docs page and the pairing dialog never disagree.

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
