// Bootstrap of one Lambda execution environment: a child process of the local cloud, started on
// the Node binary of the function's runtime (node-runtimes.ts). Plain CommonJS on purpose — it may
// run on another Node major than the cloud and loads no TypeScript — and it loads the bundled
// asset exactly as Lambda's Node.js runtime would: init once (module-level state survives between
// invocations), then handler(event, context) per invocation. Messages travel as frames on fd 3
// (frames.cjs); stdout/stderr are the function's log. Each result carries how many bytes the
// function had written to stdout/stderr by then, so the runtime attributes every line to its
// invocation before settling it. Protocol: see InvokeMessage / WorkerMessage in ./types.ts.
'use strict';
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const diagnostics = require('node:diagnostics_channel');
const { encodeFrame, frameDecoder } = require('./frames.cjs');

const init = JSON.parse(process.env.RIFFLE_LAMBDA_INIT || '{}');
delete process.env.RIFFLE_LAMBDA_INIT;
const channel = new net.Socket({ fd: 3, readable: true, writable: true });
let handlerPromise;

// Bytes written to stdout / stderr so far (counted at the write, before any buffering).
const written = [0, 0];
[process.stdout, process.stderr].forEach((stream, i) => {
  const write = stream.write;
  stream.write = function countedWrite(chunk, encoding, ...rest) {
    written[i] += typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk.length;
    return write.call(this, chunk, encoding, ...rest);
  };
});

function send(message) {
  channel.write(encodeFrame({ ...message, out: written.slice() }));
}

function isNil(v) {
  return v === null || v === undefined;
}

function lambdaError(errorType, errorMessage) {
  const e = new Error(errorMessage);
  e.name = errorType;
  return e;
}

// Same split as the Lambda Node.js runtime: everything up to the first dot of the last path
// segment is the module, the rest is the (possibly nested) export.
function splitHandler(handler) {
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  if (dot <= slash + 1 || dot === handler.length - 1) {
    throw lambdaError('Runtime.MalformedHandlerName', `Bad handler ${handler}`);
  }
  return { modulePath: handler.slice(0, dot), exportPath: handler.slice(dot + 1).split('.') };
}

async function loadHandler() {
  const { modulePath, exportPath } = splitHandler(init.handler);
  const base = path.resolve(init.assetDir, modulePath);
  const file = ['.js', '.cjs', '.mjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    throw lambdaError('Runtime.ImportModuleError', `Error: Cannot find module '${modulePath}'`);
  }
  let mod;
  try {
    if (file.endsWith('.mjs')) mod = await import(pathToFileURL(file).href);
    else {
      try {
        mod = require(file);
      } catch (e) {
        if (!e || e.code !== 'ERR_REQUIRE_ESM') throw e;
        mod = await import(pathToFileURL(file).href);
      }
    }
  } catch (e) {
    if (e && typeof e.name === 'string' && e.name.startsWith('Runtime.')) throw e;
    throw lambdaError('Runtime.ImportModuleError', String((e && e.stack) || e));
  }
  let fn = mod;
  for (const key of exportPath) fn = isNil(fn) ? undefined : fn[key];
  if (typeof fn !== 'function') {
    throw lambdaError('Runtime.HandlerNotFound', `${path.basename(modulePath)}.${exportPath.join('.')} is undefined or not exported`);
  }
  return fn;
}

function toErrorPayload(e) {
  if (e instanceof Error) {
    return {
      errorType: e.name && e.name !== 'Error' ? e.name : (e.constructor && e.constructor.name) || 'Error',
      errorMessage: e.message,
      trace: typeof e.stack === 'string' ? e.stack.split('\n') : [],
    };
  }
  // Lambda reports a thrown non-Error by its type, e.g. `throw "boom"` → errorType "string".
  return { errorType: typeof e, errorMessage: typeof e === 'string' ? e : JSON.stringify(e) ?? String(e), trace: [] };
}

function makeContext(msg, settle) {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: init.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: init.functionArn,
    memoryLimitInMB: String(init.memoryMb),
    awsRequestId: msg.requestId,
    logGroupName: init.logGroupName,
    logStreamName: init.logStreamName,
    identity: undefined,
    clientContext: msg.clientContext ? safeParse(Buffer.from(msg.clientContext, 'base64').toString('utf8')) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadlineMs - Date.now()),
    // Legacy context methods, still honoured by the Node.js runtime.
    done: (err, value) => settle(err, value),
    succeed: (value) => settle(null, value),
    fail: (err) => settle(isNil(err) ? new Error('handled') : err),
  };
}

function safeParse(s) {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function callHandler(handler, event, msg) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err, value) => {
      if (settled) return;
      settled = true;
      if (!isNil(err)) reject(err);
      else resolve(value);
    };
    const context = makeContext(msg, settle);
    try {
      const out = handler(event, context, settle);
      if (out && typeof out.then === 'function') out.then((v) => settle(null, v), (e) => settle(isNil(e) ? new Error('rejected') : e));
      // A non-async handler with fewer than 3 parameters returns its result directly.
      else if (handler.length < 3) settle(null, out);
    } catch (e) {
      settle(e);
    }
  });
}

function crash(id, reason) {
  // A small frame on an idle pipe is written at once (the previous result was read before this
  // invocation was sent), so it is in the pipe before the process dies.
  send({ type: 'crash', id, reason });
  // Dies at once, like a killed process; the runtime sees the exit.
  process.exit(1);
}

let current; // id of the invocation running, for an uncaught error that kills the process

async function run(msg) {
  current = msg.id;
  let handler;
  try {
    handler = await handlerPromise;
  } catch (e) {
    send({ type: 'result', id: msg.id, ok: false, error: toErrorPayload(e), fatal: true });
    return;
  }
  let event;
  try {
    event = JSON.parse(msg.payload);
  } catch {
    event = msg.payload;
  }
  const fault = msg.fault;
  let onResponse;
  if (fault && fault.kind === 'crashAfterCalls') {
    // Counts completed HTTP calls (the server has applied them), then dies mid-handler.
    let calls = 0;
    onResponse = () => {
      calls += 1;
      if (calls >= fault.calls) crash(msg.id, `injected crash after ${calls} completed call(s)`);
    };
    diagnostics.subscribe('http.client.response.finish', onResponse);
  }
  let result;
  let error;
  let failed = false;
  try {
    result = await callHandler(handler, event, msg);
  } catch (e) {
    failed = true;
    error = e;
  } finally {
    if (onResponse) diagnostics.unsubscribe('http.client.response.finish', onResponse);
  }
  if (fault && fault.kind === 'crashAfterHandler') crash(msg.id, 'injected crash after the handler completed');
  if (fault && fault.kind === 'hangAfterHandler') return; // the runtime's timeout terminates us
  if (failed) {
    send({ type: 'result', id: msg.id, ok: false, error: toErrorPayload(error) });
    return;
  }
  let payload;
  try {
    payload = result === undefined ? 'null' : JSON.stringify(result);
  } catch (e) {
    send({
      type: 'result',
      id: msg.id,
      ok: false,
      error: { errorType: 'Runtime.SerializationError', errorMessage: String(e && e.message), trace: [] },
    });
    return;
  }
  send({ type: 'result', id: msg.id, ok: true, payload: payload === undefined ? 'null' : payload });
}

// Init at start, as Lambda's runtime does before the first invocation: the invocation's timeout
// starts once this is done ('ready'); a module that fails to load fails that invocation.
handlerPromise = loadHandler();
handlerPromise.then(
  () => send({ type: 'ready' }),
  () => send({ type: 'ready' }),
);

channel.on(
  'data',
  frameDecoder((msg) => {
    if (msg && msg.type === 'invoke') void run(msg);
  }),
);
// An error thrown outside the handler's promise (a timer, an event emitter) kills the process, as
// in Lambda's Node.js runtime; the invocation fails with the error's type.
process.on('uncaughtException', (e) => {
  process.stderr.write(`${(e && e.stack) || e}\n`);
  const name = e && typeof e.name === 'string' && e.name !== 'Error' ? e.name : 'Runtime.UnhandledError';
  send({ type: 'crash', id: current, reason: `${(e && e.name) || 'Error'}: ${e && e.message}`, errorType: name });
  process.exit(1);
});
// The runtime went away (stopped or crashed): an environment never outlives its cloud.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));
