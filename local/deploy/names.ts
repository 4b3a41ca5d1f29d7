// Physical names the way CloudFormation generates them when a template gives none:
// <stack>-<logicalId>-<RANDOM>, truncated to each service's limit and character set. The
// "random" suffix is derived from account, region, stack and logical ID, so redeploying onto an
// existing data directory finds (and reuses) the same resources, and ESM UUIDs stay stable.
import { createHash } from 'node:crypto';

export type NameKind = 'kinesis' | 'dynamodb' | 's3' | 'lambda' | 'firehose' | 'events' | 'iam' | 'generic';

const LIMITS: Record<NameKind, number> = {
  kinesis: 128,
  dynamodb: 255,
  s3: 63,
  lambda: 64,
  firehose: 64,
  events: 64,
  iam: 64,
  generic: 128,
};

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function suffix(seed: string, length: number): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[(digest[i] ?? 0) % ALPHABET.length];
  return out;
}

export interface NameScope {
  readonly accountId: string;
  readonly region: string;
  readonly stackName: string;
}

/** A CloudFormation-style generated physical name for `logicalId` in `scope`. */
export function physicalName(kind: NameKind, scope: NameScope, logicalId: string): string {
  const seed = `${scope.accountId}/${scope.region}/${scope.stackName}/${logicalId}`;
  const max = LIMITS[kind];
  let rand = suffix(seed, 12);
  let stack = scope.stackName;
  let logical = logicalId;
  if (kind === 's3') {
    rand = rand.toLowerCase();
    stack = stack.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
    logical = logical.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  } else {
    stack = stack.replace(/[^A-Za-z0-9_.-]/g, '-');
    logical = logical.replace(/[^A-Za-z0-9_.-]/g, '-');
  }
  // CloudFormation shortens the stack and logical ID parts (not the suffix) to fit the limit.
  const room = max - rand.length - 2;
  if (stack.length + logical.length > room) {
    const stackRoom = Math.max(1, Math.min(stack.length, Math.floor(room / 2)));
    stack = stack.slice(0, stackRoom);
    logical = logical.slice(0, room - stack.length);
  }
  const name = `${stack}-${logical}-${rand}`;
  return kind === 's3' ? name.replace(/^[^a-z0-9]+/, '').replace(/-+/g, '-') : name;
}

/** A stable UUID (v4 layout) for an event source mapping, from its stack and logical ID. */
export function stableUuid(scope: NameScope, logicalId: string): string {
  const h = createHash('sha256').update(`esm/${scope.accountId}/${scope.region}/${scope.stackName}/${logicalId}`).digest('hex');
  const variant = ((parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
