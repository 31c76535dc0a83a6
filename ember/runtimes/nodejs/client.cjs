/**
 * The Lambda Runtime API (2018-06-01) client of Ember's Node.js runtime: HTTP/1.1 written
 * and read by hand on one keep-alive socket to $AWS_LAMBDA_RUNTIME_API, one request at a
 * time. Node's `http` costs ~8 times the CPU per invocation, which a 128 MB function
 * (7 % of a CPU) pays in latency; AWS's runtime uses a native client for the same reason.
 * The socket is unref'd between requests, so callbackWaitsForEmptyEventLoop still sees
 * an empty loop. Streamed responses go through `http` (stream.cjs), loaded on first use.
 */

'use strict';

const net = require('net');
const { toRapidResponse, xrayCause } = require('./errors.cjs');

const BASE = '/2018-06-01/runtime';
const ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const XRAY_CAUSE = 'Lambda-Runtime-Function-XRay-Error-Cause';
const XRAY_CAUSE_LIMIT = 1024 * 1024; // a larger cause is left out, as AWS's client does
const HEAD_END = Buffer.from('\r\n\r\n');

class RuntimeClient {
  constructor(address) {
    const cut = address.lastIndexOf(':');
    this.hostname = address.slice(0, cut);
    this.port = parseInt(address.slice(cut + 1), 10);
    this.host = address;
    this.socket = null;
    this.pending = null; // {resolve, reject, chunks, size} of the request in flight
    this.agent = null; // http's, for streamed responses
  }

  /** The next invocation: {body: string, headers} (lower-case header names). */
  async next() {
    const res = await this._request('GET', `${BASE}/invocation/next`, '', null);
    if (res.status !== 200) {
      throw new Error(`Failed to get next invocation: HTTP ${res.status}: ${res.body}`);
    }
    return res;
  }

  /** POST the handler's result (JSON; undefined is sent as null). */
  postResponse(id, result) {
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (_) {
      throw new Error('Unable to stringify response body');
    }
    return this._post(`${BASE}/invocation/${encodeURIComponent(id)}/response`, body, {});
  }

  postError(id, error) {
    const document = toRapidResponse(error);
    const headers = { [ERROR_TYPE]: headerValue(document.errorType) };
    const cause = xrayCause(error);
    if (cause && Buffer.byteLength(cause) < XRAY_CAUSE_LIMIT) {
      headers[XRAY_CAUSE] = headerValue(cause);
    }
    return this._post(
      `${BASE}/invocation/${encodeURIComponent(id)}/error`,
      JSON.stringify(document),
      headers,
    );
  }

  postInitError(error) {
    const document = toRapidResponse(error);
    return this._post(`${BASE}/init/error`, JSON.stringify(document), {
      [ERROR_TYPE]: headerValue(document.errorType),
    });
  }

  /** A streamed POST /response through `http`: the request, its headers not yet sent. */
  streamRequest(id, headers) {
    const http = require('http');
    this.agent = this.agent || new http.Agent({ keepAlive: true, maxSockets: 1 });
    return http.request({
      hostname: this.hostname,
      port: this.port,
      path: `${BASE}/invocation/${encodeURIComponent(id)}/response`,
      method: 'POST',
      headers,
      agent: this.agent,
    });
  }

  async _post(path, body, headers) {
    const res = await this._request('POST', path, body, headers);
    if (res.status < 200 || res.status >= 300) {
      throw new Error(
        `Request to Lambda Runtime '${path}' endpoint failed. ` +
          `Reason: '${res.status}'. Response body: '${res.body}'`,
      );
    }
  }

  _request(method, path, body, headers) {
    return new Promise((resolve, reject) => {
      const socket = this._connect();
      this.pending = { resolve, reject, chunks: [], size: 0 };
      let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}\r\n`;
      if (method === 'POST') {
        head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
      }
      for (const name in headers) {
        head += `${name}: ${headers[name]}\r\n`;
      }
      socket.ref();
      socket.write(head + '\r\n' + body);
    });
  }

  _connect() {
    if (this.socket !== null && !this.socket.destroyed) {
      return this.socket;
    }
    const socket = net.connect({ host: this.hostname, port: this.port, noDelay: true });
    // Only the current socket's events count: a replaced one may still report its end.
    socket.on('data', (chunk) => this.socket === socket && this._received(chunk));
    socket.on('error', (error) => this.socket === socket && this._failed(error));
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = null;
        this._failed(new Error('the Runtime API closed the connection'));
      }
    });
    this.socket = socket;
    return socket;
  }

  _failed(error) {
    const pending = this.pending;
    this.pending = null;
    if (pending !== null) {
      pending.reject(error);
    }
  }

  /** Parse the reply once its head and Content-Length bytes of body have arrived. */
  _received(chunk) {
    const pending = this.pending;
    if (pending === null) {
      return; // nothing asked: the socket is about to be replaced
    }
    pending.chunks.push(chunk);
    pending.size += chunk.length;
    const data = pending.chunks.length === 1 ? chunk : Buffer.concat(pending.chunks, pending.size);
    pending.chunks = [data];
    const end = data.indexOf(HEAD_END);
    if (end < 0) {
      return;
    }
    const lines = data.toString('latin1', 0, end).split('\r\n');
    const status = parseInt(lines[0].split(' ')[1], 10);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const length = parseInt(headers['content-length'] || '0', 10);
    const start = end + HEAD_END.length;
    if (data.length < start + length) {
      return;
    }
    this.pending = null;
    if ((headers.connection || '').toLowerCase() === 'close') {
      this.socket.destroy();
      this.socket = null;
    } else {
      this.socket.unref();
    }
    pending.resolve({ status, headers, body: data.toString('utf8', start, start + length) });
  }
}

/** A header value that cannot break the head: printable ASCII only. */
function headerValue(text) {
  return String(text)
    .replace(/[\r\n]/g, ' ')
    .replace(/[^\t\x20-\x7e]/g, '?');
}

module.exports = { RuntimeClient };
