/**
 * A module resolve hook of Ember's Node.js runtime: a bare import that Node cannot
 * resolve from the importing file is looked up in the NODE_PATH folders the runtime
 * passes (layers' /opt/nodejs/node_modules), as Lambda's Node.js 18+ runtimes do.
 */

import { pathToFileURL } from 'node:url';

let dirs = [];

export function initialize(data) {
  dirs = data?.dirs ?? [];
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) {
      throw error;
    }
    for (const dir of dirs) {
      // Resolution walks up from a file in `dir`, so `dir` itself is searched.
      const parentURL = pathToFileURL(`${dir}/_`).href;
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (_) {
        // not in this folder
      }
    }
    throw error;
  }
}
