#!/bin/sh
# clawlink agent installer. A relay serves this file at /install.sh with its
# own address and the SHA-256 of each agent binary it has filled in below:
#
#   curl -fsSL https://RELAY/install.sh | sh -s -- PAIRING_CODE [--name NAME]
#
# It does, in order, and nothing else:
#   1. downloads the relay's clawlink agent for this machine, with the
#      pairing code as the credential (sent in a POST body, never in a URL;
#      the code is not spent by this);
#   2. checks the binary's SHA-256 against the one below and installs it,
#      atomically, to /usr/local/bin (as root) or ~/.local/bin: a directory
#      only its owner (or root) can write, so no other user can replace the
#      program the service runs;
#   3. pairs this machine (`clawlink pair`, which spends the code);
#   4. installs and starts the service (`clawlink service install`: a
#      systemd system unit as root, a user unit with lingering otherwise).
# It never updates itself or the agent behind your back: run it again (with
# a new pairing code) to upgrade.
#
# Options: --name NAME (default: the host name), --bin-dir DIR, --config
# PATH (the agent's config file), --no-service (stop after pairing),
# --user-service (a user unit even as root). The code may also come from
# the environment: CLAWLINK_PAIRING_CODE=CODE sh install.sh
set -eu

api='@CLAWLINK_API@'
sums='@CLAWLINK_SUMS@'

die() {
  printf 'clawlink install: %s\n' "$*" >&2
  exit 1
}

code="${CLAWLINK_PAIRING_CODE:-}"
name=""
bindir=""
config=""
service=1
user_service=0
while [ $# -gt 0 ]; do
  case "$1" in
    --name | --bin-dir | --config)
      [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"
      case "$1" in
        --name) name="$2" ;;
        --bin-dir) bindir="$2" ;;
        --config) config="$2" ;;
      esac
      shift 2
      ;;
    --no-service) service=0; shift ;;
    --user-service) user_service=1; shift ;;
    -h | --help)
      printf 'usage: sh install.sh PAIRING_CODE [--name NAME] [--bin-dir DIR] [--config PATH]\n'
      printf '                     [--no-service] [--user-service]\n'
      printf 'installs, pairs and starts the clawlink agent from %s\n' "$api"
      exit 0
      ;;
    -*) die "unknown option $1 (try --help)" ;;
    *)
      [ -z "$code" ] || die "give the pairing code once"
      code="$1"
      shift
      ;;
  esac
done

[ -n "$code" ] || die "no pairing code: curl -fsSL $api/install.sh | sh -s -- PAIRING_CODE"
case "$code" in
  *[!A-Za-z0-9-]* | ????????????????????*) die "a pairing code is 8 letters and digits, like ABCD-2345" ;;
esac
for tool in curl sha256sum uname mktemp; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed and not installed"
done

platform="$(uname -s | tr 'A-Z' 'a-z')-$(uname -m | tr 'A-Z' 'a-z')"
want=$(printf '%s\n' "$sums" | while read -r p sum; do
  if [ "$p" = "$platform" ]; then printf '%s' "$sum"; fi
done)
if [ -z "$want" ]; then
  have=$(printf '%s\n' "$sums" | while read -r p sum; do printf '%s ' "$p"; done)
  die "this relay has no clawlink agent for $platform (it has: ${have:-none}); build it from source: $api/docs"
fi

if [ -z "$bindir" ]; then
  if [ "$(id -u)" = 0 ]; then bindir=/usr/local/bin; else bindir="$HOME/.local/bin"; fi
fi
mkdir -p "$bindir" || die "cannot create $bindir"
# The service will run what is in bindir: nobody but its owner may write there.
if [ -n "$(find "$bindir" -maxdepth 0 -perm /022 2>/dev/null)" ]; then
  die "$bindir can be written by other users; choose another with --bin-dir"
fi

tmp=$(mktemp "$bindir/.clawlink.XXXXXX") || die "cannot write to $bindir"
trap 'rm -f "$tmp"' EXIT INT TERM
printf 'downloading the clawlink agent for %s from %s\n' "$platform" "$api"
status=$(printf '{"pairing_code":"%s","platform":"%s"}' "$code" "$platform" |
  curl -sS --proto '=https,http' -X POST -H 'content-type: application/json' \
    --data-binary @- -o "$tmp" -w '%{http_code}' "$api/functions/v1/download-connector") ||
  die "cannot reach $api"
if [ "$status" != 200 ]; then
  why=$(sed -n 's/.*"message": *"\([^"]*\)".*/\1/p' "$tmp" | head -n 1)
  die "the relay refused the download (HTTP $status): ${why:-no reason given}"
fi
got=$(sha256sum "$tmp" | cut -d ' ' -f 1)
[ "$got" = "$want" ] || die "the download is damaged: SHA-256 $got, expected $want"
chmod 0755 "$tmp"
mv -f "$tmp" "$bindir/clawlink"
trap - EXIT INT TERM
printf 'installed %s/clawlink (%s)\n' "$bindir" "$("$bindir/clawlink" --version)"

set -- pair "$code" --api "$api/functions/v1"
[ -z "$name" ] || set -- "$@" --name "$name"
[ -z "$config" ] || set -- "$@" --config "$config"
"$bindir/clawlink" "$@" || die "pairing failed (see above); ask for a new code and run this again"

if [ "$service" = 1 ]; then
  set -- service install
  [ "$user_service" = 0 ] || set -- "$@" --user
  [ -z "$config" ] || set -- "$@" --config "$config"
  "$bindir/clawlink" "$@" || die "the agent is paired but its service is not installed (see above)"
else
  printf 'paired; start the agent with: %s/clawlink up%s\n' "$bindir" "${config:+ --config $config}"
fi
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) printf 'note: %s is not on your PATH\n' "$bindir" ;;
esac
