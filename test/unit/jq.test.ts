// Unit tests for the local Firehose's jq subset (local/services/jq.ts): what partition-key
// queries use evaluates like jq 1.6, and everything else is refused at compile time.
import { compileJq, JqRuntimeError, JqUnsupportedError } from '../../local/services/jq';
import type { JqValue } from '../../local/services/jq';

const run = (query: string, input: JqValue): JqValue => compileJq(query).evaluate(input);

describe('jq subset: evaluation', () => {
  const result = { windowStart: '2024-03-05T17:40:00.000Z', job: 'sensor-averages', n: 42, nested: { a: { b: 'deep' } }, list: [1, 2, 3] };

  it('builds objects from field paths and string slices (the Riffle partition query)', () => {
    expect(run('{dt: .windowStart[0:10], hour: .windowStart[11:13]}', result)).toEqual({ dt: '2024-03-05', hour: '17' });
    expect(run('{ "dt" : .windowStart | .[0:10] , hour:(.windowStart|.[11:13]) }', result)).toEqual({ dt: '2024-03-05', hour: '17' });
  });

  it('follows nested paths, quoted fields and bracket keys', () => {
    expect(run('.nested.a.b', result)).toBe('deep');
    expect(run('."nested"."a"', result)).toEqual({ b: 'deep' });
    expect(run('.["nested"]["a"].b', result)).toBe('deep');
    expect(run('.missing.deeper', result)).toBeNull();
  });

  it('indexes and slices arrays, with negative and open bounds', () => {
    expect(run('.list[0]', result)).toBe(1);
    expect(run('.list[-1]', result)).toBe(3);
    expect(run('.list[5]', result)).toBeNull();
    expect(run('.list[1:]', result)).toEqual([2, 3]);
    expect(run('.list[:-1]', result)).toEqual([1, 2]);
    expect(run('.windowStart[-5:]', result)).toBe('.000Z');
  });

  it('slices strings by code point like jq', () => {
    expect(run('.[0:2]', 'é🙂x')).toBe('é🙂');
  });

  it('supports literals, pipes, identity, {a} shorthand and the conversion builtins', () => {
    expect(run('"results"', null)).toBe('results');
    expect(run('.n | tostring', result)).toBe('42');
    expect(run('.job | tostring', result)).toBe('sensor-averages');
    expect(run('.nested | tojson', result)).toBe('{"a":{"b":"deep"}}');
    expect(run('.job | ascii_upcase', result)).toBe('SENSOR-AVERAGES');
    expect(run('{job, n}', result)).toEqual({ job: 'sensor-averages', n: 42 });
    expect(run('.', 7)).toBe(7);
    expect(run('{a: null, b: true, c: 1.5}', null)).toEqual({ a: null, b: true, c: 1.5 });
  });

  it('reports jq runtime errors', () => {
    expect(() => run('.n.x', result)).toThrow(JqRuntimeError);
    expect(() => run('.n.x', result)).toThrow('Cannot index number with "x"');
    expect(() => run('.job[0]', result)).toThrow('Cannot index string with number');
    expect(() => run('.n[0:1]', result)).toThrow(JqRuntimeError);
    expect(() => run('.n | ascii_downcase', result)).toThrow(JqRuntimeError);
  });

  it('exposes the keys a top-level object construction produces', () => {
    expect(compileJq('{dt: .a, hour: .b}').objectKeys).toEqual(['dt', 'hour']);
    expect(compileJq('.a').objectKeys).toBeUndefined();
  });
});

describe('jq subset: unsupported expressions fail at compile time', () => {
  it.each([
    ['.ts | strftime("%Y")', 'strftime'],
    ['.a, .b', 'multiple outputs'],
    ['.a + 1', '+'],
    ['.a // "x"', '/'],
    ['.[]', 'iteration'],
    ['..', 'recursive descent'],
    ['"\\(.a)"', 'interpolation'],
    ['{(.k): 1}', 'object keys'],
    ['.a?', '?'],
    ['$x', '$x'],
    ['if .a then 1 else 2 end', 'if'],
    ['.a.[0]', 'jq 1.7'],
    ['.a - 1', 'arithmetic'],
    ['', 'empty'],
  ])('%s', (query, fragment) => {
    expect(() => compileJq(query)).toThrow(JqUnsupportedError);
    expect(() => compileJq(query)).toThrow(fragment);
  });

  it('names the query and the supported subset in the message', () => {
    expect(() => compileJq('.a | split("-")')).toThrow(/unsupported JQ expression ".a \| split\(\\"-\\"\)": function or keyword `split`.*supports object construction/);
  });
});
