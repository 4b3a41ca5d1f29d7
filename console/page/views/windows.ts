// The Windows view: how many windows are open, the next ones due to close (from the state table's
// open-windows index), the newest open windows' values so far, and late and rejected records —
// counts, top reasons, a few samples of each that open the raw record in a dialog.
import type { RawRecord, ReasonCount, RecordRef, WindowsSnapshot } from '../../api';
import { duration, fill, getJson, h, int, numberCell, table, time } from '../dom';

function samplesList(refs: readonly RecordRef[], job: string): HTMLElement {
  return h(
    'ul',
    { class: 'samples' },
    refs.map((r, i) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            'data-record': `${r.kind}:${r.shardId}:${r.sequenceNumber}:${r.subSequenceNumber}`,
            id: `sample-${r.kind}-${r.shardId}-${r.sequenceNumber}-${r.subSequenceNumber}`,
            onclick: () => void openRecord(job, r),
          },
          `sample ${i + 1}`,
        ),
        ` ${r.summary}`,
      ),
    ),
  );
}

function reasons(kind: 'late' | 'rejected', data: { total: number; reasons: readonly ReasonCount[] }, job: string): HTMLElement {
  return h(
    'section',
    { 'aria-labelledby': `${kind}-h` },
    h('h3', { id: `${kind}-h` }, `${kind === 'late' ? 'Late' : 'Rejected'}: `, h('span', { id: `${kind}-total`, 'data-value': String(data.total) }, int(data.total))),
    table(
      `Top reasons for ${kind} records`,
      ['reason', 'records', 'samples (open the raw record)'],
      data.reasons.map((r) => [h('td', {}, r.reason), numberCell(r.count), h('td', {}, samplesList(r.samples, job))]),
      { id: `${kind}-reasons` },
    ),
  );
}

export async function openRecord(job: string, ref: RecordRef): Promise<void> {
  const dialog = document.getElementById('record') as HTMLDialogElement;
  const body = document.getElementById('record-body') as HTMLElement;
  const title = document.getElementById('record-title') as HTMLElement;
  title.textContent = `${ref.kind === 'late' ? 'Late' : 'Rejected'} record ${ref.shardId} / ${ref.sequenceNumber}${ref.subSequenceNumber ? ` / ${ref.subSequenceNumber}` : ''}`;
  body.replaceChildren(h('p', {}, 'loading…'));
  dialog.showModal();
  try {
    const q = new URLSearchParams({ job, kind: ref.kind, shard: ref.shardId, seq: ref.sequenceNumber, sub: String(ref.subSequenceNumber) });
    const record = await getJson<RawRecord>(`/api/record?${q.toString()}`);
    fill(
      body,
      record.payloadText !== undefined ? h('section', {}, h('h3', {}, 'Payload as text'), h('pre', { id: 'record-payload', tabindex: 0 }, record.payloadText ?? '(not UTF-8: see payload, base64)')) : null,
      h('section', {}, h('h3', {}, 'Stored record'), h('pre', { id: 'record-json', tabindex: 0 }, JSON.stringify(record.row, null, 2))),
    );
  } catch (error) {
    body.replaceChildren(h('p', { class: 'bad' }, (error as Error).message));
  }
}

/** The newest open windows' values so far, one column per aggregate. */
function liveValues(w: WindowsSnapshot): HTMLElement {
  const names = Object.keys(w.live[0]?.values ?? {});
  return h(
    'section',
    { 'aria-labelledby': 'live-h' },
    h('h3', { id: 'live-h' }, 'Current values'),
    table(
      `The newest open windows and their values so far, read from the state table (npm run query -- --live)${w.liveTruncated ? `: ${int(w.live.length)} of ${int(w.openWindows)}` : ''}`,
      ['key', 'window start', 'window end', 'events', 'state', ...names],
      w.live.map((l) => [h('td', {}, l.key), h('td', {}, time(l.windowStart)), h('td', {}, time(l.windowEnd)), numberCell(l.eventCount), h('td', {}, l.state), ...names.map((n) => numberCell(l.values[n]))]),
      { id: 'live-values' },
    ),
  );
}

export function renderWindows(main: HTMLElement, w: WindowsSnapshot): void {
  fill(main, 
    h('h2', {}, `Windows: ${w.job}`),
    h(
      'section',
      { class: 'cards', 'aria-label': 'Open windows' },
      h('div', { class: 'card' }, h('h3', {}, 'Open windows'), h('p', { class: 'big', id: 'open-windows', 'data-value': String(w.openWindows) }, int(w.openWindows))),
      h('div', { class: 'card' }, h('h3', {}, 'Watermark'), h('p', { class: 'big' }, time(w.watermark)), h('p', {}, w.watermark === null ? '' : `${duration(w.now - w.watermark)} behind the wall clock`)),
    ),
    h(
      'section',
      { 'aria-labelledby': 'due-h' },
      h('h3', { id: 'due-h' }, 'Next to close'),
      table(
        'Open windows due to close first (a window closes when the watermark passes its end plus the allowed lateness)',
        ['key', 'window start', 'window end', 'closes at (event time)', 'watermark still to go'],
        w.nextDue.map((o) => [h('td', {}, o.key), h('td', {}, o.windowStart === null ? 'session' : time(o.windowStart)), h('td', {}, time(o.windowEnd)), h('td', {}, time(o.closeAt)), h('td', {}, w.watermark === null ? '—' : duration(o.closeAt - w.watermark))]),
        { id: 'next-due' },
      ),
    ),
    liveValues(w),
    reasons('late', w.late, w.job),
    reasons('rejected', w.rejected, w.job),
  );
}
