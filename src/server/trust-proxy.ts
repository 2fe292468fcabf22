/**
 * The server's `trustProxy` option made into Fastify's: which `X-Forwarded-For` entries
 * to believe (a hop count, or proxy addresses and CIDR ranges), checked at start-up so a
 * setting that would let any client pick its own address is refused.
 *
 * @module
 */

import { BlockList, isIP } from "node:net";
import { ServerConfigError } from "./errors.ts";
import type { TrustProxy } from "./options.ts";

/** Most proxy hops `trustProxy` may name: more is a mistake, not a deployment. */
export const MAX_TRUSTED_HOPS = 16;

/** Named ranges `trustProxy` accepts beside addresses (those of Express's `trust proxy`). */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ["127.0.0.1/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

const badEntry = (entry: string) =>
  new ServerConfigError(
    `trust proxy: '${entry}' is not an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`,
  );

/** The addresses and ranges of a `trustProxy` list, as a `BlockList` (IPv4-mapped IPv6 included). */
function trustedRanges(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const named = NAMED_RANGES[entry];
    for (const item of named ?? [entry]) {
      const slash = item.indexOf("/");
      const address = slash === -1 ? item : item.slice(0, slash);
      const family = isIP(address);
      if (family === 0) throw badEntry(entry);
      const type = family === 4 ? "ipv4" : "ipv6";
      if (slash === -1) {
        list.addAddress(address, type);
        continue;
      }
      const bitsText = item.slice(slash + 1);
      const bits = Number(bitsText);
      if (!/^\d{1,3}$/.test(bitsText) || bits < 1 || bits > (family === 4 ? 32 : 128))
        throw badEntry(entry);
      list.addSubnet(address, bits, type);
    }
  }
  return list;
}

/**
 * Fastify's `trustProxy` for the server's option: which `X-Forwarded-For` entries to
 * believe. The client is the right-most address not trusted (the one the outermost
 * trusted proxy saw), never an entry a client wrote further left.
 *
 * - `false` / absent: none; the client is the socket's peer.
 * - a hop count `n`: the socket's peer and the `n - 1` entries right of the rest are
 *   proxies. Safe only when no client can reach the server except through them: a
 *   direct caller could otherwise add entries of its own.
 * - addresses, CIDR ranges or `loopback`/`linklocal`/`uniquelocal` (a list, or one string
 *   with commas): the hops from these are believed, whatever their number.
 *
 * @throws ServerConfigError for `true` (every entry believed: any client picks its own
 *   address and rate-limit bucket), a hop count out of 1–{@link MAX_TRUSTED_HOPS}, or an
 *   entry that is no address or range.
 */
export function trustProxyOption(
  value: TrustProxy | boolean | undefined,
): false | ((address: string, hop: number) => boolean) {
  if (value === undefined || value === false) return false;
  if (value === true)
    throw new ServerConfigError(
      "trust proxy: 'true' would believe every X-Forwarded-For entry, so any client could pick its own address (and rate-limit bucket): give the number of proxies in front (1 for one load balancer) or their addresses (10.0.0.0/8,127.0.0.1)",
    );
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 1 || value > MAX_TRUSTED_HOPS)
      throw new ServerConfigError(
        `trust proxy: the hop count must be a whole number from 1 to ${MAX_TRUSTED_HOPS}, got ${value}`,
      );
    return (_address, hop) => hop < value;
  }
  const entries = (typeof value === "string" ? value.split(",") : [...value])
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (entries.length === 0)
    throw new ServerConfigError("trust proxy: the list of proxy addresses is empty");
  const list = trustedRanges(entries);
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
  };
}
