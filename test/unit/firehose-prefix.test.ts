// Unit tests for Firehose prefix expressions and object names (local/services/firehose-prefix.ts):
// Java DateTimeFormatter patterns in UTC, the firehose/partitionKeyFromQuery namespaces, AWS's
// default time prefix, and rejection of what AWS or the emulator cannot evaluate.
import {
  compileDateFormat,
  compilePrefix,
  effectiveDataPrefix,
  effectiveErrorPrefix,
  objectName,
  PrefixError,
  randomString,
  renderPrefix,
} from '../../local/services/firehose-prefix';

// 2024-03-05T07:08:09.123Z, a Tuesday, day 65 of a leap year.
const T = Date.UTC(2024, 2, 5, 7, 8, 9, 123);

describe('Java DateTimeFormatter subset (UTC)', () => {
  it.each([
    ['yyyy/MM/dd/HH', '2024/03/05/07'],
    ["'year='yyyy'/month='MM", 'year=2024/month=03'],
    ['yyyy-MM-dd HH:mm:ss.SSS', '2024-03-05 07:08:09.123'],
    ['yy M d H m s', '24 3 5 7 8 9'],
    ['uuuu', '2024'],
    ['MMM MMMM', 'Mar March'],
    ['EEE EEEE', 'Tue Tuesday'],
    ['DDD', '065'],
    ['hh a', '07 AM'],
    ["'it''s' yyyy", "it's 2024"],
    ["''", "'"],
  ])('%s → %s', (pattern, expected) => {
    expect(compileDateFormat(pattern).format(T)).toBe(expected);
  });

  it('formats midnight and noon on the 12-hour clock like Java', () => {
    expect(compileDateFormat('h a').format(Date.UTC(2024, 0, 1, 0))).toBe('12 AM');
    expect(compileDateFormat('h a').format(Date.UTC(2024, 0, 1, 12))).toBe('12 PM');
  });

  it('rejects unknown letters, too many letters, optional sections and open quotes', () => {
    expect(() => compileDateFormat('yyyy-ww')).toThrow(/letter 'w'/);
    expect(() => compileDateFormat('ddd')).toThrow(/too many pattern letters: d/);
    expect(() => compileDateFormat('yyyy[MM]')).toThrow(/reserved/);
    expect(() => compileDateFormat("'open")).toThrow(/unterminated quote/);
  });
});

describe('prefix expressions', () => {
  it('renders timestamp, partition keys, error type and random string', () => {
    const prefix = compilePrefix('results/job=x/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/!{timestamp:mm}/');
    expect(prefix.queryKeys).toEqual(['dt', 'hour']);
    expect(renderPrefix(prefix, { timestampMs: T, partitionKeys: { dt: '2024-01-02', hour: '23' } })).toBe('results/job=x/dt=2024-01-02/hour=23/08/');

    const errors = compilePrefix('errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/');
    expect(errors.usesErrorOutputType).toBe(true);
    expect(renderPrefix(errors, { timestampMs: T, errorOutputType: 'partitioning-failed' })).toBe('errors/partitioning-failed/2024/03/05/');

    const random = compilePrefix('r/!{firehose:random-string}/');
    expect(renderPrefix(random, { timestampMs: T, randomString: () => 'abcdefghijk' })).toBe('r/abcdefghijk/');
    expect(randomString()).toMatch(/^[A-Za-z0-9]{11}$/);
  });

  it('appends yyyy/MM/dd/HH/ to a prefix without expressions, like AWS', () => {
    expect(renderPrefix(effectiveDataPrefix(compilePrefix('plain/')), { timestampMs: T })).toBe('plain/2024/03/05/07/');
    expect(renderPrefix(effectiveDataPrefix(compilePrefix('')), { timestampMs: T })).toBe('2024/03/05/07/');
    const custom = compilePrefix('x/!{timestamp:yyyy}/');
    expect(renderPrefix(effectiveDataPrefix(custom), { timestampMs: T })).toBe('x/2024/');
  });

  it('appends <error-output-type>/yyyy/MM/dd/HH/ to an error prefix without expressions', () => {
    expect(renderPrefix(effectiveErrorPrefix(compilePrefix('err/')), { timestampMs: T, errorOutputType: 'partitioning-failed' })).toBe(
      'err/partitioning-failed/2024/03/05/07/',
    );
    expect(renderPrefix(effectiveErrorPrefix(compilePrefix('')), { timestampMs: T, errorOutputType: 'processing-failed' })).toBe('processing-failed/2024/03/05/07/');
  });

  it('rejects partitionKeyFromLambda, unknown namespaces and malformed expressions with clear messages', () => {
    expect(() => compilePrefix('a/!{partitionKeyFromLambda:k}/')).toThrow(/partitionKeyFromLambda.*not supported by the local cloud/);
    expect(() => compilePrefix('a/!{foo:bar}/')).toThrow(PrefixError);
    expect(() => compilePrefix('a/!{firehose:nope}/')).toThrow(/random-string, error-output-type/);
    expect(() => compilePrefix('a/!{timestamp:yyyy')).toThrow(/unterminated/);
    expect(() => compilePrefix('a/!{partitionKeyFromQuery:}/')).toThrow(/invalid partition key/);
  });

  it('leaves text without expressions alone (including a lone "!")', () => {
    const prefix = compilePrefix('wow!/{x}/');
    expect(prefix.hasExpressions).toBe(false);
    expect(renderPrefix(prefix, { timestampMs: T })).toBe('wow!/{x}/');
  });
});

describe('object names', () => {
  it('follows <stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>', () => {
    expect(objectName('riffle-results', 1, T, '.gz', '0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(
      'riffle-results-1-2024-03-05-07-08-09-0f8fad5b-d9cb-469f-a165-70867728950e.gz',
    );
    expect(objectName('s', 3, T, '')).toMatch(/^s-3-2024-03-05-07-08-09-[0-9a-f-]{36}$/);
  });
});
