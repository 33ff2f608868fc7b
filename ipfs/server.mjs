// A local Helia (IPFS) node behind a tiny HTTP API on loopback, for Flavum's IPFS trace store.
//
// Blocks are raw IPFS blocks: CIDv1, codec raw (0x55), multihash sha2-256 of the whole body.
// That is the CID PyPI `ipfs-cid` computes, so the Python side (flavum/da/ipfs.py) checks every
// answer against its own hash.
//
// The node has no network: no bootstrap peers, no mDNS, no DHT, no delegated routing, no HTTP
// gateways, and libp2p listens nowhere. Every read is made with `offline: true`, so a missing
// block is an immediate 404 instead of a network search.
//
// API (all bodies are raw bytes):
//   POST /blocks          body = the block       -> 200, text body = its CID
//   GET  /blocks/<cid>                           -> 200 the block | 404 | 400 bad CID
//   HEAD /blocks/<cid>                           -> 200 | 404 | 400
//   GET  /health                                 -> 200 {"ok": true, "blocks": "fs"|"memory"}
//
// Usage: node server.mjs [--host 127.0.0.1] [--port 0] [--repo DIR] [--max-bytes N]
//                        [--exit-on-stdin-close]
// With --port 0 the OS picks a free port. Once serving, one line goes to stdout:
//   FLAVUM-IPFS READY http://127.0.0.1:<port>
// --repo keeps blocks on disk (blockstore-fs) instead of in memory. Stops on SIGTERM/SIGINT.

import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

import { FsBlockstore } from 'blockstore-fs'
import { createHelia } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    repo: { type: 'string' },
    // Exit when stdin closes: a test runner that dies cannot leave the node running.
    'exit-on-stdin-close': { type: 'boolean', default: false },
    // A batch blob is a few MB; refuse bodies past this so one request cannot exhaust memory.
    'max-bytes': { type: 'string', default: String(256 * 1024 * 1024) }
  }
})
const maxBytes = Number(args['max-bytes'])

const init = {
  // Helia's own HTTP routers and trustless gateways reach the internet: none.
  http: { delegatedRouters: [], recursiveGateways: [] },
  // libp2p keys not named here keep Helia's defaults; these replace them whole.
  libp2p: {
    addresses: { listen: [] },
    peerDiscovery: [],
    services: {}
  }
}
if (args.repo != null) {
  init.blockstore = new FsBlockstore(args.repo)
}
const helia = await createHelia(init)

function parseCid (text) {
  let cid
  try {
    cid = CID.parse(text)
  } catch {
    return null
  }
  // Only the one kind of CID Flavum writes; anything else is a client error, not a lookup.
  if (cid.version !== 1 || cid.code !== raw.code || cid.multihash.code !== sha256.code) {
    return null
  }
  return cid
}

async function readBody (req) {
  const chunks = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.length
    if (size > maxBytes) {
      return null
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

function send (res, status, body, type = 'text/plain') {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

async function handle (req, res) {
  const url = new URL(req.url, 'http://localhost')
  if (url.pathname === '/health' && req.method === 'GET') {
    send(res, 200, JSON.stringify({ ok: true, blocks: args.repo != null ? 'fs' : 'memory' }),
      'application/json')
    return
  }
  if (url.pathname === '/blocks' && req.method === 'POST') {
    const body = await readBody(req)
    if (body == null) {
      send(res, 413, `block larger than ${maxBytes} bytes\n`)
      return
    }
    const block = new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
    const cid = CID.createV1(raw.code, await sha256.digest(block))
    await helia.blockstore.put(cid, block)
    send(res, 200, cid.toString())
    return
  }
  const match = /^\/blocks\/([^/]+)$/.exec(url.pathname)
  if (match != null && (req.method === 'GET' || req.method === 'HEAD')) {
    const cid = parseCid(match[1])
    if (cid == null) {
      send(res, 400, 'not a CIDv1 raw sha2-256\n')
      return
    }
    if (!(await helia.blockstore.has(cid))) {
      send(res, 404, 'not found\n')
      return
    }
    if (req.method === 'HEAD') {
      res.writeHead(200)
      res.end()
      return
    }
    const chunks = []
    for await (const chunk of helia.blockstore.get(cid, { offline: true })) {
      chunks.push(chunk)
    }
    const block = Buffer.concat(chunks)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': block.length })
    res.end(block)
    return
  }
  send(res, 404, 'no such route\n')
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(err)
    if (!res.headersSent) {
      send(res, 500, `${err.name}: ${err.message}\n`)
    } else {
      res.destroy()
    }
  })
})

server.listen(Number(args.port), args.host, () => {
  const { address, port } = server.address()
  console.log(`FLAVUM-IPFS READY http://${address}:${port}`)
})

let stopping = false
async function shutdown () {
  if (stopping) {
    return
  }
  stopping = true
  server.close()
  await helia.stop()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
if (args['exit-on-stdin-close']) {
  process.stdin.on('end', shutdown)
  process.stdin.on('close', shutdown)
  process.stdin.resume()
}
