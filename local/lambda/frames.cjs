// Length-prefixed frames between the local Lambda runtime and a function's process (bootstrap.cjs),
// over a dedicated pipe (fd 3). Plain CommonJS: the function's process may be another Node major
// than the cloud's and loads no TypeScript. Hand-written rather than fork()'s IPC channel: its
// JSON mode would escape every payload (a JSON string) a second time, its 'advanced' mode ties the
// two ends to compatible V8 serializer versions across Node majors; this sends the payload as raw
// UTF-8 next to a small JSON header.
// Frame: u32 BE header length · u32 BE body length · header (JSON) · body (UTF-8, the `payload`).
'use strict';

/** @param {Record<string, unknown>} message  @returns {Buffer} */
function encodeFrame(message) {
  const { payload, ...rest } = message;
  const header = Buffer.from(JSON.stringify(typeof payload === 'string' ? { ...rest, $payload: true } : rest), 'utf8');
  const bodyLength = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : 0;
  const frame = Buffer.allocUnsafe(8 + header.length + bodyLength);
  frame.writeUInt32BE(header.length, 0);
  frame.writeUInt32BE(bodyLength, 4);
  header.copy(frame, 8);
  if (typeof payload === 'string') frame.write(payload, 8 + header.length, 'utf8');
  return frame;
}

/**
 * Calls onMessage for every complete frame fed in, in order, whatever the chunking.
 * @param {(message: Record<string, unknown>) => void} onMessage
 */
function frameDecoder(onMessage) {
  /** @type {Buffer[]} */
  let chunks = [];
  let buffered = 0;
  return (/** @type {Buffer} */ chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= 8) {
      let head = chunks[0];
      if (head.length < 8) {
        head = Buffer.concat(chunks);
        chunks = [head];
      }
      const headerLength = head.readUInt32BE(0);
      const total = 8 + headerLength + head.readUInt32BE(4);
      if (buffered < total) return;
      const all = chunks.length === 1 ? head : Buffer.concat(chunks, buffered);
      const message = JSON.parse(all.toString('utf8', 8, 8 + headerLength));
      if (message.$payload) {
        delete message.$payload;
        message.payload = all.toString('utf8', 8 + headerLength, total);
      }
      chunks = total < all.length ? [all.subarray(total)] : [];
      buffered -= total;
      onMessage(message);
    }
  };
}

module.exports = { encodeFrame, frameDecoder };
