/**
 * Response streaming (`awslambda.streamifyResponse`): the writable stream a streaming
 * handler writes to, sent to the Runtime API as one chunked POST /response in streaming
 * mode, an error after the first byte as trailers; and `awslambda.HttpResponseStream`,
 * which prefixes the body with an HTTP prelude for function URLs.
 */

'use strict';

const { InvalidStreamingOperation, toRapidResponse } = require('./errors.cjs');

const RESPONSE_MODE = 'Lambda-Runtime-Function-Response-Mode';
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY = 'Lambda-Runtime-Function-Error-Body';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const PRELUDE_DELIMITER = 8; // NUL bytes between the JSON prelude and the body

// What handlers may touch of the request: a Writable's surface plus setContentType.
const METHODS = [
  'cork', 'destroy', 'end', 'uncork', 'write', 'addListener', 'emit', 'eventNames',
  'getMaxListeners', 'listenerCount', 'listeners', 'off', 'on', 'once', 'prependListener',
  'prependOnceListener', 'rawListeners', 'removeAllListeners', 'removeListener',
  'setMaxListeners', 'setContentType',
];
const READ_WRITE = ['destroyed', 'writable', '_onBeforeFirstWrite'];
const READ_ONLY = [
  'writableFinished', 'writableObjectMode', 'writableBuffer', 'writableEnded',
  'writableNeedDrain', 'writableHighWaterMark', 'writableCorked', 'writableLength',
];

/**
 * One invocation's response stream: {stream, done, fail(err)}. `done` settles once the
 * Runtime API has answered the POST; `fail` ends the stream with the error in trailers.
 */
function openResponseStream(client, id) {
  let started = false;
  const request = client.streamRequest(id, {
    [RESPONSE_MODE]: 'streaming',
    'Transfer-Encoding': 'chunked',
    Trailer: `${ERROR_TYPE}, ${ERROR_BODY}`,
    'Content-Type': DEFAULT_CONTENT_TYPE,
  });
  const done = new Promise((resolve, reject) => {
    request.on('response', (res) => {
      res.on('data', () => {});
      res.on('end', resolve);
      res.on('aborted', reject);
    });
    request.on('error', reject);
  });
  done.catch(() => {}); // awaited by the runtime; never an unhandled rejection
  request.setContentType = (contentType) => {
    if (started) {
      throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    }
    request.setHeader('Content-Type', contentType);
  };
  const write = request.write.bind(request);
  request.write = function (chunk, encoding, callback) {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) {
      chunk = JSON.stringify(chunk);
    }
    if (!started && typeof this._onBeforeFirstWrite === 'function') {
      this._onBeforeFirstWrite((first) => write(first));
    }
    started = true;
    return write(chunk, encoding, callback);
  };
  const stream = {};
  for (const name of METHODS) {
    stream[name] = request[name].bind(request);
  }
  for (const name of READ_WRITE) {
    Object.defineProperty(stream, name, {
      get: () => request[name],
      set: (value) => {
        request[name] = value;
      },
    });
  }
  for (const name of READ_ONLY) {
    Object.defineProperty(stream, name, { get: () => request[name] });
  }
  const fail = (error) =>
    new Promise((resolve) => {
      const document = toRapidResponse(error);
      request.addTrailers({
        [ERROR_TYPE]: document.errorType,
        [ERROR_BODY]: Buffer.from(JSON.stringify(document)).toString('base64'),
      });
      request.end(resolve);
    });
  return { stream, done, fail };
}

class HttpResponseStream {
  /** `stream` with an HTTP prelude ({statusCode, headers, cookies}) before its first byte. */
  static from(stream, prelude) {
    stream.setContentType(PRELUDE_CONTENT_TYPE);
    const head = JSON.stringify(prelude);
    stream._onBeforeFirstWrite = (write) => {
      write(head);
      write(new Uint8Array(PRELUDE_DELIMITER));
    };
    return stream;
  }
}

module.exports = { openResponseStream, HttpResponseStream };
