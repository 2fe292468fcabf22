/**
 * `NullAuditStore`: keeps nothing.
 *
 * @module
 */

import { GENESIS } from "./hash-chain.ts";
import type {
  AuditBucketCount,
  AuditStore,
  AuditWindowCounts,
  ChainEntry,
  ChainedRecord,
  MigrationResult,
  MigrationStatus,
  PolicyCounts,
} from "./types.ts";

/**
 * An audit store that keeps nothing, for code that takes a store but should not log
 * (the Python package's `NullAuditStore`). Queries answer empty.
 */
export class NullAuditStore implements AuditStore {
  async migrate(): Promise<readonly MigrationResult[]> {
    return [];
  }
  async rollback(): Promise<readonly MigrationResult[]> {
    return [];
  }
  async migrationStatus(): Promise<readonly MigrationStatus[]> {
    return [];
  }
  async append(): Promise<void> {}
  async query(): Promise<readonly ChainedRecord[]> {
    return [];
  }
  async counts(): Promise<PolicyCounts> {
    return { allowed: 0, warned: 0, blocked: 0, topBlockReasons: [] };
  }
  async policyIds(): Promise<readonly string[]> {
    return [];
  }
  async timeseries(): Promise<readonly AuditBucketCount[]> {
    return [];
  }
  async summary(): Promise<AuditWindowCounts> {
    return { outcomes: [], topBlockReasons: [] };
  }
  async prune(): Promise<number> {
    return 0;
  }
  async chain(): Promise<readonly ChainEntry[]> {
    return [];
  }
  async ends(): Promise<{
    startSeq: number;
    startHash: string;
    headSeq: number;
    headHash: string;
  }> {
    return { startSeq: 0, startHash: GENESIS, headSeq: 0, headHash: GENESIS };
  }
  async close(): Promise<void> {}
}
