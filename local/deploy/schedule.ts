// EventBridge schedules for the embedded cloud: rate() and cron() expressions (AWS's six-field
// cron, UTC) and a scheduler that invokes target functions asynchronously with EventBridge's
// "Scheduled Event" payload (or the target's Input). `timeScale` runs the schedule clock faster
// (60 → rate(1 minute) fires every second), for tests and demos.
//
// Downtime. On AWS a schedule keeps firing whatever happens to its targets; locally the clock
// stops with the process. With `stateFile`, each rule's last firing is persisted, and a rule that
// should have fired while the cloud was down (killed or stopped) fires ONCE as soon as the
// scheduler starts, then keeps its cadence from there — not once per missed period: a scheduled
// target such as Riffle's closer acts on the state as it is now, so one late run does the work of
// all the missed ones (like systemd's Persistent= timers, or anacron). A rule seen for the first
// time never catches up.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeStateFileSync } from '../durable/state-file';

export type Schedule =
  | { readonly kind: 'rate'; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly expression: string; readonly fields: CronFields };

export interface CronFields {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  /** Empty with `lastDayOfMonth` for `L`; null for `?` (use day-of-week). */
  readonly daysOfMonth: ReadonlySet<number> | null;
  readonly lastDayOfMonth: boolean;
  readonly months: ReadonlySet<number>;
  /** 1 = Sunday … 7 = Saturday (AWS); null for `?`. */
  readonly daysOfWeek: ReadonlySet<number> | null;
  readonly years: ReadonlySet<number> | null;
}

const UNIT_MS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export function parseSchedule(expression: string): Schedule {
  const expr = expression.trim();
  const rate = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/i.exec(expr);
  if (rate) {
    const n = Number(rate[1]);
    const unit = (rate[2] ?? '').toLowerCase();
    const ms = UNIT_MS[unit];
    if (!ms || n < 1) throw new Error(`invalid rate expression: ${expression}`);
    if ((n === 1) !== (unit === 'minute' || unit === 'hour' || unit === 'day')) {
      throw new Error(`invalid rate expression: ${expression} (AWS wants "1 minute" but "5 minutes")`);
    }
    return { kind: 'rate', everyMs: n * ms };
  }
  const cron = /^cron\((.*)\)$/i.exec(expr);
  if (cron) return { kind: 'cron', expression: expr, fields: parseCron(cron[1] ?? '') };
  throw new Error(`unsupported schedule expression: ${expression} (rate(...) or cron(...))`);
}

function field(text: string, min: number, max: number, names?: readonly string[], nameBase = 0): Set<number> {
  const out = new Set<number>();
  const value = (s: string): number => {
    const upper = s.toUpperCase();
    const i = names ? names.indexOf(upper) : -1;
    const n = i >= 0 ? i + nameBase : Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`cron value ${s} out of range ${min}-${max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad cron step in ${part}`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = min;
      hi = max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      lo = value(a);
      hi = value(b);
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(body: string): CronFields {
  const parts = body.trim().split(/\s+/);
  if (parts.length !== 6) throw new Error(`cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got "${body}"`);
  const [min = '', hour = '', dom = '', mon = '', dow = '', year = ''] = parts;
  if (/[W#]/i.test(dom + dow) || /L/i.test(dow)) throw new Error(`cron field features W, # and day-of-week L are not supported locally: "${body}"`);
  if ((dom === '?') === (dow === '?')) throw new Error(`cron(): exactly one of day-of-month and day-of-week must be "?": "${body}"`);
  const lastDay = dom.toUpperCase() === 'L';
  return {
    minutes: field(min, 0, 59),
    hours: field(hour, 0, 23),
    daysOfMonth: dom === '?' ? null : lastDay ? new Set() : field(dom, 1, 31),
    lastDayOfMonth: lastDay,
    months: field(mon, 1, 12, MONTHS, 1),
    daysOfWeek: dow === '?' ? null : field(dow, 1, 7, DAYS, 1),
    years: year === '*' ? null : field(year, 1970, 2199),
  };
}

/** The first minute strictly after `afterMs` matching the cron fields (UTC), or undefined. */
export function nextCronTime(f: CronFields, afterMs: number): number | undefined {
  const d = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
  const limit = afterMs + 5 * 366 * 86_400_000;
  while (d.getTime() <= limit) {
    if (f.years && !f.years.has(d.getUTCFullYear())) {
      d.setUTCFullYear(d.getUTCFullYear() + 1, 0, 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!f.months.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    const day = d.getUTCDate();
    const lastOfMonth = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
    const domOk = f.daysOfMonth === null ? true : f.lastDayOfMonth ? day === lastOfMonth : f.daysOfMonth.has(day);
    const dowOk = f.daysOfWeek === null ? true : f.daysOfWeek.has(d.getUTCDay() + 1);
    if (!domOk || !dowOk) {
      d.setUTCDate(day + 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!f.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!f.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return d.getTime();
  }
  return undefined;
}

export interface ScheduleTarget {
  readonly functionName: string;
  /** The target's Input (a JSON string); default: the Scheduled Event. */
  readonly input?: string;
}

export interface ScheduledRule {
  readonly name: string;
  readonly arn: string;
  readonly expression: string;
  readonly targets: readonly ScheduleTarget[];
  /** EventBridge Scheduler (AWS::Scheduler::Schedule) sends only the Input, never a Scheduled Event. */
  readonly scheduler?: boolean;
}

export interface SchedulerOptions {
  readonly region: string;
  readonly accountId: string;
  /** Invoke a function asynchronously (EventBridge uses InvocationType Event). */
  readonly invokeAsync: (functionName: string, payload: string) => void;
  /** Schedule clock speed-up; default 1. */
  readonly timeScale?: number;
  readonly log?: (line: string) => void;
  /** JSON file keeping each rule's last firing across restarts (catch-up after downtime). */
  readonly stateFile?: string;
}

/** Per rule: the expression and when (epoch ms, wall clock) it last fired or was first armed. */
interface RuleState {
  readonly expression: string;
  readonly since: number;
}

interface Entry {
  readonly rule: ScheduledRule;
  readonly schedule: Schedule;
  timer?: NodeJS.Timeout;
  fired: number;
  /** Next firing on the (scaled) schedule clock. */
  nextAt?: number;
  /** Armed at least once in this process (catch-up is decided on the first arming only). */
  armed?: boolean;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private running = false;
  private readonly origin = Date.now();
  private readonly state: Record<string, RuleState> = {};

  constructor(private readonly opts: SchedulerOptions) {
    if (opts.stateFile) {
      try {
        const saved = JSON.parse(readFileSync(opts.stateFile, 'utf8')) as { rules?: Record<string, RuleState> };
        for (const [name, r] of Object.entries(saved.rules ?? {})) {
          if (typeof r?.expression === 'string' && Number.isFinite(r.since)) this.state[name] = { expression: r.expression, since: r.since };
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.log?.(`ignoring unreadable schedule state ${opts.stateFile}: ${(err as Error).message}`);
      }
    }
  }

  /** Adds (or replaces) a rule; throws on an unsupported expression. */
  add(rule: ScheduledRule): void {
    const schedule = parseSchedule(rule.expression);
    this.remove(rule.name);
    const entry: Entry = { rule, schedule, fired: 0 };
    this.entries.set(rule.name, entry);
    if (this.running) this.arm(entry);
  }

  remove(name: string): void {
    const e = this.entries.get(name);
    if (e?.timer) clearTimeout(e.timer);
    this.entries.delete(name);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const e of this.entries.values()) this.arm(e);
  }

  stop(): void {
    this.running = false;
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
  }

  /** Fires a rule now (tests, `--tick`), independently of its schedule. */
  fire(name: string): void {
    const e = this.entries.get(name);
    if (!e) throw new Error(`no scheduled rule ${name}`);
    this.invoke(e);
  }

  list(): { name: string; expression: string; fired: number; targets: string[] }[] {
    return [...this.entries.values()].map((e) => ({
      name: e.rule.name,
      expression: e.rule.expression,
      fired: e.fired,
      targets: e.rule.targets.map((t) => t.functionName),
    }));
  }

  private get scale(): number {
    return this.opts.timeScale && this.opts.timeScale > 0 ? this.opts.timeScale : 1;
  }

  /** The schedule clock: real time since start, sped up by timeScale. */
  private clock(): number {
    return this.origin + (Date.now() - this.origin) * this.scale;
  }

  /** A firing was due between the rule's persisted `since` and now (scaled clock)? */
  private missedWhileDown(e: Entry): boolean {
    const saved = this.state[e.rule.name];
    if (!saved || saved.expression !== e.rule.expression) return false;
    const reached = saved.since + Math.max(0, Date.now() - saved.since) * this.scale;
    const s = e.schedule;
    const due = s.kind === 'rate' ? saved.since + s.everyMs : nextCronTime(s.fields, saved.since);
    return due !== undefined && due <= reached;
  }

  private remember(e: Entry): void {
    if (!this.opts.stateFile) return;
    this.state[e.rule.name] = { expression: e.rule.expression, since: Date.now() };
    try {
      writeStateFileSync(this.opts.stateFile, JSON.stringify({ rules: this.state }, null, 2));
    } catch (err) {
      this.opts.log?.(`could not persist schedule state ${this.opts.stateFile}: ${(err as Error).message}`);
    }
  }

  private arm(e: Entry): void {
    if (!e.armed) {
      e.armed = true;
      if (this.missedWhileDown(e)) {
        this.opts.log?.(`schedule ${e.rule.name} (${e.rule.expression}) should have fired while the cloud was down: firing once now`);
        this.invoke(e);
        this.remember(e);
      } else if (!this.state[e.rule.name] || this.state[e.rule.name]?.expression !== e.rule.expression) {
        this.remember(e); // first seen: downtime from now on is caught up
      }
    }
    const now = this.clock();
    const s = e.schedule;
    // Rates keep their cadence (no drift); cron looks for the first matching minute after the
    // later of now and the last firing (timer rounding must not fire the same minute twice).
    const next = s.kind === 'rate' ? (e.nextAt !== undefined && e.nextAt > now ? e.nextAt : now + s.everyMs) : nextCronTime(s.fields, Math.max(now, e.nextAt ?? now));
    if (next === undefined) return;
    e.nextAt = next;
    e.timer = setTimeout(() => {
      this.invoke(e);
      this.remember(e);
      if (s.kind === 'rate') e.nextAt = next + s.everyMs;
      if (this.running) this.arm(e);
    }, Math.max(0, (next - now) / this.scale));
    e.timer.unref();
  }

  private invoke(e: Entry): void {
    e.fired += 1;
    for (const t of e.rule.targets) {
      const payload =
        t.input ??
        (e.rule.scheduler
          ? '{}'
          : JSON.stringify({
              version: '0',
              id: randomUUID(),
              'detail-type': 'Scheduled Event',
              source: 'aws.events',
              account: this.opts.accountId,
              time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
              region: this.opts.region,
              resources: [e.rule.arn],
              detail: {},
            }));
      try {
        this.opts.invokeAsync(t.functionName, payload);
      } catch (err) {
        this.opts.log?.(`schedule ${e.rule.name}: could not invoke ${t.functionName}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
