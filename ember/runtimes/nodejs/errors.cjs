/**
 * The errors Ember's Node.js runtime names itself, and the shapes errors take on the way
 * out: the document posted to the Runtime API ({errorType, errorMessage, trace}), the
 * tab-prefixed JSON written to the log, and the X-Ray cause header. Shapes follow AWS's
 * Node.js runtime (aws-lambda-nodejs-runtime-interface-client).
 */

'use strict';

const util = require('util');

function looksLikeError(value) {
  return (
    value &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string' &&
    value.name &&
    value.message &&
    value.stack
  );
}

/** Anything thrown or passed to a callback, as an Error. */
function intoError(value) {
  return value instanceof Error ? value : new Error(value);
}

/** The body of POST /invocation/{id}/error and /init/error. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: error.stack.split('\n'),
      };
    }
    // Lambda reports a thrown string or object by its typeof, without a trace.
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(value) {
  if (!(value instanceof Error)) {
    return value;
  }
  const shown = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') {
    shown.stack = value.stack.split('\n');
  }
  return shown;
}

/** An error as the log shows it: a tab, then JSON with its type, message and stack. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => withEnumerableProperties(value));
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

/** The Lambda-Runtime-Function-XRay-Error-Cause header's JSON ('' if it cannot be made). */
function xrayCause(error) {
  try {
    const stack = [];
    if (error && typeof error.stack === 'string') {
      for (const raw of error.stack.split('\n').slice(1)) {
        let line = raw.trim().replace(/\(|\)/g, '');
        line = line.substring(line.indexOf(' ') + 1);
        const cut = line.lastIndexOf(' ');
        const label = cut >= 0 ? line.slice(0, cut) : null;
        const where = (label ? line.slice(cut + 1) : line).split(':');
        stack.push({ path: where[0], line: parseInt(where[1], 10), label: label || 'anonymous' });
      }
    }
    return JSON.stringify({
      working_directory: process.cwd(),
      exceptions: [{ type: error && error.name, message: error && error.message, stack }],
      paths: Array.from(new Set(stack.map((entry) => entry.path))),
    });
  } catch (_) {
    return '';
  }
}

// Lambda's Runtime.* failures: the class name after "Runtime." is the errorType's tail.
class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class MalformedStreamingHandler extends Error {}
class InvalidStreamingOperation extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
        'commonly caused by a Promise that was never settled. For more information, see ' +
        'https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}

const runtimeErrors = {
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  MalformedStreamingHandler,
  InvalidStreamingOperation,
  NodeJsExit,
  UnhandledPromiseRejection,
};
for (const [name, cls] of Object.entries(runtimeErrors)) {
  cls.prototype.name = `Runtime.${name}`;
}

module.exports = { intoError, toRapidResponse, toFormatted, xrayCause, ...runtimeErrors };
