/**
 * What function code sees of `console`: every method writes one line to stdout in the form
 * AWS's Node.js runtime uses, `<ISO time>\t<request id>\t<LEVEL>\t<message>` (or a JSON
 * object when AWS_LAMBDA_LOG_FORMAT=JSON), filtered by AWS_LAMBDA_LOG_LEVEL. Newlines in a
 * message become \r, so a multi-line message stays one log event.
 */

'use strict';

const util = require('util');
const { intoError, toFormatted } = require('./errors.cjs');

// The invocation being handled (undefined during init, as on Lambda), shared through a
// global symbol as AWS's runtime does, so a bundled copy of a logger can read it too.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});

function setRequestId(id) {
  globalThis[REQUEST_ID] = id;
}

function jsonReplacer(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function jsonLine(level, params) {
  const record = {
    timestamp: new Date().toISOString(),
    level: level.name,
    requestId: globalThis[REQUEST_ID],
  };
  if (params.length === 1) {
    record.message = params[0];
    try {
      return JSON.stringify(record, jsonReplacer);
    } catch (_) {
      record.message = util.format(record.message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(...params);
  const error = params.find((p) => p instanceof Error);
  if (error !== undefined) {
    record.errorType = error?.constructor?.name ?? 'UnknownError';
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

function textLine(level, params) {
  const time = new Date().toISOString();
  return `${time}\t${globalThis[REQUEST_ID]}\t${level.name}\t${util.format(...params)}`;
}

/** Replace console's methods; returns logError(title, error) for the runtime's own use. */
function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const format = json ? jsonLine : textLine;
  const write = (level, params) => {
    process.stdout.write(format(level, params).replace(/\n/g, '\r') + '\n');
  };
  const threshold =
    LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const method = (level) =>
    level.priority >= threshold.priority ? (...params) => write(level, params) : () => {};
  console.trace = method(LEVELS.TRACE);
  console.debug = method(LEVELS.DEBUG);
  console.info = method(LEVELS.INFO);
  console.log = console.info;
  console.warn = method(LEVELS.WARN);
  console.error = method(LEVELS.ERROR);
  console.fatal = (...params) => write(LEVELS.FATAL, params);
  if (json) {
    return (_title, error) => console.error(intoError(error));
  }
  return (title, error) => console.error(title, toFormatted(intoError(error)));
}

module.exports = { patchConsole, setRequestId };
