/**
 * Loading `$_HANDLER` ("file.export", "src/app.handler", "index.nested.fn") the way AWS's
 * Node.js runtime does: CommonJS through require (.js, .cjs, extensionless), ES modules
 * through import() (.mjs, or .js under a package.json with "type": "module"), and its
 * Runtime.* errors with AWS's messages.
 */

'use strict';

const fs = require('fs');
const path = require('path');
const {
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  MalformedStreamingHandler,
  UserCodeSyntaxError,
} = require('./errors.cjs');

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

/** Does the nearest package.json above `folder` say "type": "module"? */
function typeModule(folder) {
  if (folder.endsWith('/node_modules')) {
    return false;
  }
  const manifest = path.join(folder, 'package.json');
  if (fs.existsSync(manifest)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(manifest));
      if (pkg) {
        return pkg.type === 'module';
      }
    } catch (e) {
      console.warn(
        `${manifest} cannot be read, it will be ignored for ES module detection purposes.`,
        e,
      );
      return false;
    }
  }
  if (folder === '/') {
    return false;
  }
  return typeModule(path.resolve(folder, '..'));
}

function requireIfExists(userRequire, file) {
  return fs.existsSync(file) ? userRequire(file) : undefined;
}

async function importIfExists(file) {
  return fs.existsSync(file) ? await import(file) : undefined;
}

/** The user's module, tried in AWS's order of file names and module systems. */
async function loadModule(userRequire, appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const bare = requireIfExists(userRequire, base);
  if (bare) {
    return bare;
  }
  const esm = typeModule(path.dirname(base));
  if (!esm) {
    const cjs = requireIfExists(userRequire, base + '.js');
    if (cjs) {
      return cjs;
    }
  }
  const loaded =
    (esm && (await importIfExists(base + '.js'))) ||
    (await importIfExists(base + '.mjs')) ||
    requireIfExists(userRequire, base + '.cjs');
  if (loaded) {
    return loaded;
  }
  // Last, Node's own resolution from the task root (a package name, a folder's index.js):
  // what yields AWS's "Cannot find module 'index'" when nothing matches.
  return userRequire(userRequire.resolve(name, { paths: [appRoot, moduleRoot] }));
}

/** The handler function named by `handlerString`, under `appRoot`. */
async function load(userRequire, appRoot, handlerString) {
  if (handlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const tail = path.basename(handlerString);
  const moduleRoot = handlerString.substring(0, handlerString.indexOf(tail));
  const match = tail.match(/^([^.]*)\.(.*)$/);
  if (!match) {
    throw new MalformedHandlerName('Bad handler');
  }
  const [, name, property] = match;
  let app;
  try {
    app = await loadModule(userRequire, appRoot, moduleRoot, name);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new UserCodeSyntaxError(e);
    }
    if (e && e.code === 'MODULE_NOT_FOUND') {
      throw new ImportModuleError(e);
    }
    throw e;
  }
  const handler = property.split('.').reduce((object, key) => object && object[key], app);
  if (!handler) {
    throw new HandlerNotFound(`${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new HandlerNotFound(`${handlerString} is not a function`);
  }
  return handler;
}

/** How to call the handler: streaming or not, its stream's high-water mark, async or not. */
function metadata(handler) {
  const mode = handler[HANDLER_STREAMING];
  if (mode !== undefined && mode !== null && mode !== false && mode !== STREAM_RESPONSE) {
    throw new MalformedStreamingHandler('Only response streaming is supported.');
  }
  const mark = parseInt(handler[HANDLER_HIGHWATERMARK], 10);
  return {
    streaming: mode === STREAM_RESPONSE,
    highWaterMark: Number.isNaN(mark) ? undefined : mark,
    isAsync: handler.constructor && handler.constructor.name === 'AsyncFunction',
  };
}

/** awslambda.streamifyResponse: marks a handler as streaming (handler(event, stream, ctx)). */
function streamifyResponse(handler, options) {
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  if (typeof options?.highWaterMark === 'number') {
    handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark, 10);
  }
  return handler;
}

module.exports = { load, metadata, streamifyResponse };
