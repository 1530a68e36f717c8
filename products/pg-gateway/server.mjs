// A small PostgreSQL-protocol service built on the npm `pg-gateway` package, the way its
// README and examples embed it: a `node:net` server hands each socket to `fromNodeSocket`
// with the `tls` option (key, cert, ca) and an `auth` method, and answers queries itself in
// `onMessage`. pgssl's `pg-gateway` conformance target runs it.
//
//   node server.mjs CONFIG.json     serve until SIGINT or SIGTERM; SIGHUP re-reads CONFIG
//   node server.mjs --version       print `pg-gateway X.Y.Z on Node vN (OpenSSL V)`
//
// CONFIG (JSON; unknown keys are an error):
//   port            TCP port on 127.0.0.1 (required; 0 picks one)
//   socket          Unix-domain socket path to listen on as well (optional)
//   auth            "trust" (default) or "cert": pg-gateway's methods that need no password
//   serverVersion   the server_version ParameterStatus to send (optional; none by default)
//   maxConnections  net.Server's maxConnections (optional)
//   logConnections  log each connection and its authentication (default false)
//   tls             null or absent: SSLRequest is answered N. An object: S, then TLS with
//     key, cert     PEM files (required), read at start and at SIGHUP
//     ca            PEM file of CAs for client certificates (optional)
//     minVersion, maxVersion   "TLSv1" … "TLSv1.3" (optional)
//     ciphers       OpenSSL cipher list; TLS_* names are TLS 1.3 suites (optional)
//     ecdhCurve     a curve or colon-separated list of groups (optional)
//
// pg-gateway hands Node's TLS only key, cert, ca and passphrase (src/platforms/node/tls.ts,
// createTlsSocketOptions), so the protocol range, ciphers and curves are set as Node's
// process-wide defaults (tls.DEFAULT_MIN_VERSION and friends), which every TLS context it
// creates starts from. Options Node has no process-wide default for (dhparam,
// honorCipherOrder, crl) cannot reach pg-gateway's TLS and are refused as unknown keys.
//
// Nothing is checked that pg-gateway itself does not check: the key's permissions are not
// looked at, and the files are not parsed until a client's TLS handshake needs them.

import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';

const TOP_KEYS = ['port', 'socket', 'auth', 'serverVersion', 'maxConnections', 'logConnections', 'tls'];
const TLS_KEYS = ['key', 'cert', 'ca', 'minVersion', 'maxVersion', 'ciphers', 'ecdhCurve'];
const NO_DEFAULT = {
  dhparam: 'Node has no process-wide dhparam default and pg-gateway passes none to its TLS',
  honorCipherOrder: 'Node has no process-wide honorCipherOrder default and pg-gateway passes none to its TLS',
  crl: 'Node has no process-wide CRL default and pg-gateway passes none to its TLS',
  passphrase: 'this server takes unencrypted keys only',
};

/** Node's own TLS defaults, restored before a configuration sets its own. */
const NODE_TLS_DEFAULTS = {
  DEFAULT_MIN_VERSION: tls.DEFAULT_MIN_VERSION,
  DEFAULT_MAX_VERSION: tls.DEFAULT_MAX_VERSION,
  DEFAULT_CIPHERS: tls.DEFAULT_CIPHERS,
  DEFAULT_ECDH_CURVE: tls.DEFAULT_ECDH_CURVE,
};

class ConfigError extends Error {}

function fatal(message) {
  process.stderr.write(`FATAL: ${message}\n`);
  process.exit(1);
}

function log(message) {
  process.stderr.write(`LOG: ${message}\n`);
}

/** The installed pg-gateway's package.json, found the way Node resolves the package. */
function gatewayPackage() {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', 'pg-gateway', 'package.json');
    if (existsSync(candidate)) {
      return { path: candidate, json: JSON.parse(readFileSync(candidate, 'utf8')) };
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new ConfigError(
        'pg-gateway is not installed in a node_modules directory above this script (run scripts/install-deps)',
      );
    }
    dir = parent;
  }
}

function versionLine() {
  const { json } = gatewayPackage();
  return `pg-gateway ${json.version} on Node ${process.version} (OpenSSL ${process.versions.openssl})`;
}

function checkKeys(what, object, allowed) {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    throw new ConfigError(`${what} must be a JSON object`);
  }
  for (const key of Object.keys(object)) {
    if (NO_DEFAULT[key]) {
      throw new ConfigError(`${what} has "${key}", which this server cannot apply: ${NO_DEFAULT[key]}`);
    }
    if (!allowed.includes(key)) {
      throw new ConfigError(`${what} has the unknown key "${key}" (known: ${allowed.join(', ')})`);
    }
  }
}

function optionalString(what, value) {
  if (value !== undefined && typeof value !== 'string') {
    throw new ConfigError(`${what} must be a string`);
  }
  return value;
}

function readPem(what, path) {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`could not read the ${what} file "${path}": ${err.message}`);
  }
}

/** Reads and checks CONFIG, and the files it names. */
function loadConfig(path) {
  let raw;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`could not read the configuration "${path}": ${err.message}`);
  }
  checkKeys('the configuration', raw, TOP_KEYS);
  if (!Number.isInteger(raw.port) || raw.port < 0 || raw.port > 65535) {
    throw new ConfigError('"port" must be an integer from 0 to 65535');
  }
  const auth = raw.auth ?? 'trust';
  if (auth !== 'trust' && auth !== 'cert') {
    throw new ConfigError(`"auth" must be "trust" or "cert", not ${JSON.stringify(auth)}`);
  }
  if (
    raw.maxConnections !== undefined &&
    (!Number.isInteger(raw.maxConnections) || raw.maxConnections < 1)
  ) {
    throw new ConfigError('"maxConnections" must be a positive integer');
  }
  if (raw.logConnections !== undefined && typeof raw.logConnections !== 'boolean') {
    throw new ConfigError('"logConnections" must be true or false');
  }
  const config = {
    port: raw.port,
    socket: optionalString('"socket"', raw.socket),
    auth,
    serverVersion: optionalString('"serverVersion"', raw.serverVersion),
    maxConnections: raw.maxConnections,
    logConnections: raw.logConnections ?? false,
    tls: null,
  };
  if (raw.tls !== undefined && raw.tls !== null) {
    checkKeys('"tls"', raw.tls, TLS_KEYS);
    const t = raw.tls;
    for (const name of ['key', 'cert']) {
      if (typeof t[name] !== 'string') {
        throw new ConfigError(`"tls.${name}" must be the path of a PEM file`);
      }
    }
    for (const name of ['ca', 'minVersion', 'maxVersion', 'ciphers', 'ecdhCurve']) {
      optionalString(`"tls.${name}"`, t[name]);
    }
    config.tls = {
      files: {
        key: readPem('TLS key', t.key),
        cert: readPem('TLS certificate', t.cert),
        ca: t.ca === undefined ? undefined : readPem('TLS CA', t.ca),
      },
      defaults: {
        DEFAULT_MIN_VERSION: t.minVersion,
        DEFAULT_MAX_VERSION: t.maxVersion,
        DEFAULT_CIPHERS: t.ciphers,
        DEFAULT_ECDH_CURVE: t.ecdhCurve,
      },
    };
  }
  return config;
}

/** Sets Node's process-wide TLS defaults from `config` (Node's own where it sets none). */
function applyTlsDefaults(config) {
  for (const [name, value] of Object.entries(NODE_TLS_DEFAULTS)) {
    tls[name] = config.tls?.defaults[name] ?? value;
  }
}

/** A backend message: its type byte, then a length covering itself and `body`. */
function message(type, body) {
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const cstring = (s) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
const int16 = (n) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const readyForQuery = () => message('Z', Buffer.from('I'));

/** The reply to a simple Query: `SELECT 1` is answered; anything else is an error. */
function answerQuery(data) {
  const end = data.indexOf(0, 5);
  const sql = Buffer.from(data.subarray(5, end < 0 ? data.length : end)).toString('utf8');
  if (sql.trim() === '') {
    return [message('I', Buffer.alloc(0)), readyForQuery()];
  }
  if (/^\s*select\s+1\s*;?\s*$/i.test(sql)) {
    const column = Buffer.concat([
      cstring('?column?'),
      int32(0), // table oid
      int16(0), // column number
      int32(23), // int4
      int16(4),
      int32(-1),
      int16(0), // text
    ]);
    return [
      message('T', Buffer.concat([int16(1), column])),
      message('D', Buffer.concat([int16(1), int32(1), Buffer.from('1')])),
      message('C', cstring('SELECT 1')),
      readyForQuery(),
    ];
  }
  const error = Buffer.concat([
    Buffer.from('S'),
    cstring('ERROR'),
    Buffer.from('V'),
    cstring('ERROR'),
    Buffer.from('C'),
    cstring('0A000'),
    Buffer.from('M'),
    cstring('this server answers only SELECT 1'),
    Buffer.alloc(1),
  ]);
  return [message('E', error), readyForQuery()];
}

/** Listens on `where` (a port on 127.0.0.1 or a socket path); resolves when listening. */
function listen(server, where) {
  return new Promise((resolve, reject) => {
    const onError = (err) => {
      const reason = err.code === 'EADDRINUSE' ? 'Address already in use' : err.message;
      reject(new ConfigError(`could not listen on ${where.label}: ${reason} (${err.code})`));
    };
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (where.path !== undefined) {
      server.listen(where.path, done);
    } else {
      server.listen(where.port, '127.0.0.1', done);
    }
  });
}

async function main(args) {
  if (args.length === 1 && args[0] === '--version') {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  if (args.length !== 1) {
    throw new ConfigError('usage: node server.mjs CONFIG.json | --version');
  }
  const configPath = args[0];
  log(versionLine());
  const { fromNodeSocket } = await import('pg-gateway/node');
  let config = loadConfig(configPath);
  applyTlsDefaults(config);

  const handle = async (socket) => {
    // The configuration in force when the connection arrived serves it to the end.
    const c = config;
    socket.on('error', (err) => {
      if (c.logConnections) log(`connection error: ${err.message}`);
    });
    if (c.logConnections) {
      log(`connection received: host=${socket.remoteAddress ?? 'local'}`);
    }
    await fromNodeSocket(socket, {
      serverVersion: c.serverVersion,
      auth: { method: c.auth },
      tls: c.tls ? { ...c.tls.files } : undefined,
      onAuthenticated(state) {
        if (c.logConnections) {
          const ssl = state.tlsInfo ? 'SSL' : 'no SSL';
          log(`connection authorized: user=${state.clientParams?.user} (${ssl}, auth=${c.auth})`);
        }
      },
      onMessage(data, state) {
        // After authentication the service answers simple queries itself; everything else
        // (startup, TLS, authentication, Terminate) is pg-gateway's.
        if (state.isAuthenticated && data[0] === 0x51) {
          return answerQuery(data);
        }
        return undefined;
      },
    });
  };

  const servers = [];
  const tcp = createServer(handle);
  servers.push([tcp, { port: config.port, label: `127.0.0.1:${config.port}` }]);
  if (config.socket !== undefined) {
    servers.push([createServer(handle), { path: config.socket, label: `"${config.socket}"` }]);
  }
  for (const [server, where] of servers) {
    if (config.maxConnections !== undefined) server.maxConnections = config.maxConnections;
    await listen(server, where);
  }

  process.on('SIGHUP', () => {
    log('received SIGHUP, reloading the configuration');
    try {
      const next = loadConfig(configPath);
      config = next;
      applyTlsDefaults(config);
      for (const [server] of servers) {
        server.maxConnections = config.maxConnections ?? Number.POSITIVE_INFINITY;
      }
      log('configuration reloaded');
    } catch (err) {
      log(`the configuration was not reloaded: ${err.message}`);
    }
  });
  const stop = () => {
    for (const [server] of servers) server.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  log(`ready: listening on 127.0.0.1:${tcp.address().port}${config.socket ? ` and ${config.socket}` : ''}`);
}

// A client's failed TLS handshake makes pg-gateway 0.3.0-beta.4 throw outside any handler
// of ours, and Node's default for that is to end the process, dropping every other client:
// - its connection loop runs from the constructor unawaited, and when upgradeTls
//   (platforms/node/tls.ts) fails, init()'s error handler (connection.ts) aborts a stream
//   Node's TLS still holds locked: an unhandled rejection;
// - when the TLS context cannot be made (a cipher list OpenSSL rejects), the TLSSocket it
//   wraps around the web stream emits 'error' with no listener: an uncaught exception.
// A service logs these and serves on, so each connection's outcome is its own.
process.on('unhandledRejection', (err) => {
  log(`unhandled rejection in a connection: ${err?.message ?? String(err)}`);
});
process.on('uncaughtException', (err) => {
  log(`uncaught exception in a connection: ${err?.message ?? String(err)}`);
});

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError) fatal(err.message);
  fatal(err?.stack ?? String(err));
});
