// Small helpers every resource handler uses: reading resolved CloudFormation property values
// (which may be strings where numbers or booleans are meant), naming resources as
// CloudFormation would, waiting for a resource to become active, and template tag lists.
import type { HandlerArgs } from '../types';
import { physicalName, type NameKind } from '../names';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  return undefined;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : '';
}

/** The template's name property, or a CloudFormation-style generated name. */
export function nameFor(a: HandlerArgs, kind: NameKind, prop: string): string {
  return str(a.props[prop]) ?? physicalName(kind, a.st.scope, a.logicalId);
}

export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A template `Tags: [{Key, Value}]` list as a map (later keys win, like AWS). */
export function tagMap(tags: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(tags)) return out;
  for (const t of tags) if (isRecord(t) && typeof t['Key'] === 'string') out[t['Key']] = str(t['Value']) ?? '';
  return out;
}
