/**
 * Ember's Node.js runtime: the program that runs function code inside an environment for
 * Runtime nodejs18.x, nodejs20.x and nodejs22.x, as /var/runtime/index.mjs (the name AWS's
 * own runtime has, which shows in its error messages' require stacks).
 *
 * Reads top to bottom as the lifecycle: patch console, load `$_HANDLER` from
 * $LAMBDA_TASK_ROOT (or report the init error and exit), then loop over
 * GET /invocation/next. Every shape a function or its caller can observe follows AWS's
 * Node.js runtime: the context object, callback and async handlers,
 * callbackWaitsForEmptyEventLoop, errors, log lines, response streaming. Plain
 * JavaScript, Node's standard library only, no `ember` imports.
 */

// `register` by property: Node 18 before 18.19 has none, and a named import would not link.
import Module, { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

// Function code is required as if from this file, as on Lambda ("Require stack: -
// /var/runtime/index.mjs" in an ImportModuleError).
const require = createRequire(import.meta.url);
const { RuntimeClient } = require('./client.cjs');
const { NodeJsExit, UnhandledPromiseRejection } = require('./errors.cjs');
const { load, metadata, streamifyResponse } = require('./loader.cjs');
const { patchConsole, setRequestId } = require('./logging.cjs');
const { HttpResponseStream, openResponseStream } = require('./stream.cjs');

const HEADER = {
  requestId: 'lambda-runtime-aws-request-id',
  deadline: 'lambda-runtime-deadline-ms',
  arn: 'lambda-runtime-invoked-function-arn',
  trace: 'lambda-runtime-trace-id',
  clientContext: 'lambda-runtime-client-context',
  identity: 'lambda-runtime-cognito-identity',
  tenantId: 'lambda-runtime-aws-tenant-id',
};

const logError = patchConsole();
const client = new RuntimeClient(process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');

// Where an uncaught exception or unhandled rejection is reported: the init error until the
// first invocation, then the invocation's error; the process then exits, as on Lambda.
const report = {
  uncaught: (error) => exitAfter(client.postInitError(error), 129),
  rejection: (error) => exitAfter(client.postInitError(error), 128),
};
process.on('uncaughtException', (error) => {
  logError('Uncaught Exception', error);
  report.uncaught(error);
});
process.on('unhandledRejection', (reason, promise) => {
  const error = new UnhandledPromiseRejection(reason, promise);
  logError('Unhandled Promise Rejection', error);
  report.rejection(error);
});

// What runs once the event loop is empty (callbackWaitsForEmptyEventLoop, handlers that
// never answer); replaced per invocation.
let beforeExit = () => {};
process.on('beforeExit', () => beforeExit());

function exitAfter(posted, code) {
  posted.then(
    () => process.exit(code),
    () => process.exit(code),
  );
}

if (!['1', 'true'].includes(process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA)) {
  globalThis.awslambda = { streamifyResponse, HttpResponseStream };
}

resolveEsmFromNodePath();

let handler;
let handlerInfo;
try {
  const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';
  handler = await load(require, taskRoot, process.env._HANDLER || '');
  handlerInfo = metadata(handler);
} catch (error) {
  logError('Uncaught Exception', error);
  exitAfter(client.postInitError(error), 129);
  await new Promise(() => {}); // the exit comes once the error is posted
}
scheduleNext();

/**
 * ES modules do not read NODE_PATH; Lambda's Node.js 18+ runtimes search it for bare
 * imports anyway (layers' /opt/nodejs/node_modules). A resolve hook does the same, set up
 * only when such a folder exists (a hook costs a loader thread's start).
 */
function resolveEsmFromNodePath() {
  const task = process.env.LAMBDA_TASK_ROOT || '/var/task';
  const runtime = process.env.LAMBDA_RUNTIME_DIR || '/var/runtime';
  const dirs = (process.env.NODE_PATH || '')
    .split(':')
    .filter((dir) => dir && dir !== task && dir !== runtime && existsSync(dir));
  if (dirs.length > 0 && typeof Module.register === 'function') {
    Module.register('./esm_paths.mjs', import.meta.url, { data: { dirs } });
  }
}

// --- the invoke loop ---------------------------------------------------------------------

function scheduleNext() {
  setImmediate(() => {
    const once = handlerInfo.streaming ? handleStreaming : handleBuffered;
    once().catch((error) => {
      console.log(`Unexpected Top Level Error: ${error.toString()}`);
      report.uncaught(error);
    });
  });
}

/**
 * After a result or error is posted, the next invocation. A post the Runtime API refuses
 * (413 for a result over 6 MB: the invocation already failed there) is only noted on
 * stderr; a Runtime API that is gone ends the runtime at the next GET.
 */
function afterPost(posted) {
  posted.then(scheduleNext, (error) => {
    process.stderr.write(`${error.message}\n`);
    scheduleNext();
  });
}

async function next() {
  const { body, headers } = await client.next();
  const id = headers[HEADER.requestId];
  if (!id) {
    throw new Error('invocation id is missing or invalid');
  }
  setRequestId(id);
  // X-Ray SDKs read the current trace from the environment, as on Lambda.
  if (headers[HEADER.trace]) {
    process.env._X_AMZN_TRACE_ID = headers[HEADER.trace];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  report.uncaught = (error) => exitAfter(client.postError(id, error), 129);
  report.rejection = (error) => exitAfter(client.postError(id, error), 128);
  return { id, body, headers };
}

/** The context's invocation and environment fields (throws on a malformed header). */
function contextData(id, headers) {
  const env = process.env;
  const deadline = Number(headers[HEADER.deadline]);
  return {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseHeader(headers[HEADER.clientContext], 'ClientContext'),
    identity: parseHeader(headers[HEADER.identity], 'CognitoIdentity'),
    invokedFunctionArn: headers[HEADER.arn],
    awsRequestId: id,
    tenantId: headers[HEADER.tenantId],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

function parseHeader(value, name) {
  if (value === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

async function handleBuffered() {
  const { id, body, headers } = await next();
  const [callback, context, markCompleted] = callbackContext(id);
  try {
    beforeExit = () => {
      // The loop emptied and the handler never answered: an async handler's promise never
      // settled (an error); a callback handler's answer is null.
      markCompleted();
      if (handlerInfo.isAsync) {
        const error = new NodeJsExit();
        logError('Invoke Error', error);
        afterPost(client.postError(id, error));
      } else {
        afterPost(client.postResponse(id, null));
      }
    };
    Object.assign(context, contextData(id, headers));
    const result = handler(JSON.parse(body), context, callback);
    if (result && typeof result.then === 'function') {
      result.then(context.succeed, context.fail).catch(context.fail);
    }
  } catch (error) {
    callback(error);
  }
}

/**
 * The callback, the context's callback part (succeed/fail/done and
 * callbackWaitsForEmptyEventLoop), and markCompleted; only the first answer counts.
 */
function callbackContext(id) {
  let completed = false;
  let waitForEmptyEventLoop = true;
  const postError = (error) => {
    logError('Invoke Error', error);
    afterPost(client.postError(id, error));
  };
  const complete = (result) => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    completed = true;
    afterPost(client.postResponse(id, result));
  };
  const callback = (error, result) => {
    beforeExit = () => {};
    if (error !== undefined && error !== null) {
      postError(error);
    } else if (!waitForEmptyEventLoop) {
      complete(result);
    } else {
      // Lambda answers once everything the handler started has finished.
      beforeExit = () => setImmediate(() => complete(result));
    }
  };
  const done = (error, result) => {
    beforeExit = () => {};
    if (error !== undefined && error !== null) {
      postError(error);
    } else {
      complete(result);
    }
  };
  let finished = false;
  const once =
    (fn) =>
    (...args) => {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => done(null, result)),
    fail: once((error) => done(error === undefined || error === null ? 'handled' : error, null)),
    done: once(done),
  };
  return [once(callback), context, () => (completed = true)];
}

async function handleStreaming() {
  const { id, body, headers } = await next();
  let waitForEmptyEventLoop = true;
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
  };
  const { stream, done, fail } = openResponseStream(client, id);
  const finish = () => {
    beforeExit = () => {};
    if (!waitForEmptyEventLoop) {
      scheduleNext();
    } else {
      beforeExit = () => setImmediate(scheduleNext);
    }
  };
  const failWith = async (error) => {
    logError('Invoke Error', error);
    await fail(error);
    await done.catch(() => {});
    finish();
  };
  beforeExit = () => scheduleNext();
  try {
    Object.assign(context, contextData(id, headers));
    const result = handler(JSON.parse(body), stream, context);
    if (!result || typeof result.then !== 'function') {
      await failWith('Streaming does not support non-async handlers.');
      return;
    }
    if ((await result) !== undefined) {
      console.warn('Streaming handlers ignore return values.');
    }
    await done;
    if (!stream.writableFinished) {
      await failWith('Response stream is not finished.');
      return;
    }
    finish();
  } catch (error) {
    await failWith(error);
  }
}
