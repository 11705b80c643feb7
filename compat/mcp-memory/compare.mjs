// Sends the same MCP calls, through the TypeScript MCP SDK's client, to the
// reference memory server (npx @modelcontextprotocol/server-memory) and to
// inmem serve --mcp, and fails on the first answer that differs: the nine
// tools' definitions, a written scenario that reaches every tool and its
// errors, a seeded random sequence of calls, the graph after both servers
// restart from their files, and the reference server's file imported into
// a new database (inmem import DIR memory.jsonl --memory).
//
//   INMEM_BIN=/path/to/inmem node compare.mjs [--ops N] [--seed S]
//
// Without INMEM_BIN it builds the command from ../../cmd/inmem with $GO (go).

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual, parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: { ops: { type: "string", default: "400" }, seed: { type: "string", default: "1" } },
});
const OPS = Number(flags.ops);
const SEED = Number(flags.seed);

const TOOLS = [
  "create_entities", "create_relations", "add_observations", "delete_entities",
  "delete_observations", "delete_relations", "read_graph", "search_nodes", "open_nodes",
];

const work = mkdtempSync(join(tmpdir(), "mcp-memory-compat-"));
let bin = process.env.INMEM_BIN;
if (!bin) {
  bin = join(work, "inmem");
  execFileSync(process.env.GO || "go", ["build", "-o", bin, "./cmd/inmem"], { cwd: join(here, "..", ".."), stdio: "inherit" });
}

// A server under test: how to start it, its client, and the time its calls took.
function server(name, command, args, env) {
  return { name, command, args, env, client: null, ms: 0 };
}
const ref = server("reference", "npx", ["--no-install", "@modelcontextprotocol/server-memory"],
  { MEMORY_FILE_PATH: join(work, "memory.jsonl") });
const inm = server("inmem", bin, ["serve", join(work, "db"), "--mcp"], {});

async function start(s) {
  s.client = new Client({ name: "mcp-memory-compat", version: "1.0.0" });
  await s.client.connect(new StdioClientTransport({
    command: s.command, args: s.args, cwd: here, env: { ...process.env, ...s.env }, stderr: "ignore",
  }));
}

async function stop(s) {
  await s.client.close();
  s.client = null;
}

// call returns what a client sees of a result: error flag, content and
// structured content (a protocol-level failure counts as an error).
async function call(s, name, args) {
  const t0 = performance.now();
  try {
    const r = await s.client.callTool({ name, arguments: args });
    return { isError: !!r.isError, content: r.content, structured: r.structuredContent };
  } catch (e) {
    return { isError: true, content: [{ type: "text", text: String(e.message) }], structured: undefined };
  } finally {
    s.ms += performance.now() - t0;
  }
}

let calls = 0;
function fail(what, a, b) {
  console.error(`DIFFERENT after ${calls} calls: ${what}`);
  console.error(`reference: ${JSON.stringify(a, null, 2)}`);
  console.error(`inmem:     ${JSON.stringify(b, null, 2)}`);
  process.exit(1);
}

// same sends one call to both servers and compares the answers. An input
// the schema refuses must be refused by both; the texts of such errors
// are each SDK's own and are not compared.
async function same(name, args, { invalid = false } = {}) {
  calls++;
  const a = await call(ref, name, args);
  const b = await call(inm, name, args);
  if (invalid) {
    if (!a.isError || !b.isError) fail(`${name}(${JSON.stringify(args)}) should be refused by both`, a, b);
    return a;
  }
  if (!isDeepStrictEqual(a, b)) fail(`${name}(${JSON.stringify(args)})`, a, b);
  return a;
}

// The nine tools' definitions: names, titles, descriptions, schemas (less
// the $schema dialect line) and annotations.
async function compareTools() {
  const defs = async (s) => {
    const { tools } = await s.client.listTools();
    const out = {};
    for (const t of tools.filter((t) => TOOLS.includes(t.name))) {
      const strip = (sc) => { if (!sc) return sc; const { $schema, ...rest } = sc; return rest; };
      const { title, ...ann } = t.annotations ?? {};
      out[t.name] = { title: t.title, description: t.description, input: strip(t.inputSchema), output: strip(t.outputSchema), annotations: ann };
    }
    return out;
  };
  const a = await defs(ref);
  const b = await defs(inm);
  for (const name of TOOLS) {
    if (!a[name]) fail(`the reference has no tool ${name}`, a, b);
    if (!isDeepStrictEqual(a[name], b[name])) fail(`the definition of ${name}`, a[name], b[name]);
  }
}

// A written scenario: every tool, empty and missing things, errors,
// text that JSON escapes, fields the schemas do not name.
async function scenario() {
  await same("read_graph", {});
  await same("search_nodes", { query: "anything" });
  await same("create_entities", { entities: [] });
  await same("create_entities", { entities: [
    { name: "Ada Lovelace", entityType: "person", observations: ["Wrote the first program", "Born 1815"] },
    { name: "Analytical Engine", entityType: "machine", observations: [] },
    { name: "Babbage", entityType: "person", observations: ["<designer> & \"inventor\"", "naïve ünïcödé ✓ 🚂"] },
  ] });
  await same("create_entities", { entities: [
    { name: "Ada Lovelace", entityType: "robot", observations: ["ignored"] },
    { name: "London", entityType: "city", observations: ["rainy"], id: "extra fields are dropped" },
  ] });
  await same("create_relations", { relations: [
    { from: "Ada Lovelace", to: "Analytical Engine", relationType: "programmed" },
    { from: "Babbage", to: "Analytical Engine", relationType: "designed" },
    { from: "Ada Lovelace", to: "Babbage", relationType: "corresponded with" },
    { from: "Babbage", to: "Nowhere", relationType: "never went to" },
  ] });
  await same("create_relations", { relations: [
    { from: "Ada Lovelace", to: "Analytical Engine", relationType: "programmed" },
    { from: "Ada Lovelace", to: "London", relationType: "lived in" },
  ] });
  await same("add_observations", { observations: [
    { entityName: "Analytical Engine", contents: ["Never completed", "Steam powered"] },
    { entityName: "Ada Lovelace", contents: ["Born 1815", "Countess"] },
    { entityName: "Ada Lovelace", contents: ["Countess", "Mathematician"] },
  ] });
  await same("add_observations", { observations: [
    { entityName: "London", contents: ["capital"] },
    { entityName: "Nobody", contents: ["should not be written"] },
  ] });
  await same("read_graph", {});
  await same("search_nodes", { query: "PERSON" });
  await same("search_nodes", { query: "steam" });
  await same("search_nodes", { query: "🚂" });
  await same("search_nodes", { query: "" });
  await same("open_nodes", { names: ["London", "Ada Lovelace", "Ghost"] });
  await same("open_nodes", { names: [] });
  await same("delete_observations", { deletions: [
    { entityName: "Ada Lovelace", observations: ["Born 1815", "not there"] },
    { entityName: "Ghost", observations: ["x"] },
  ] });
  await same("delete_relations", { relations: [
    { from: "Babbage", to: "Nowhere", relationType: "never went to" },
    { from: "x", to: "y", relationType: "z" },
  ] });
  await same("delete_entities", { entityNames: ["Babbage", "Ghost"] });
  await same("read_graph", {});
  await same("create_entities", { entities: [{ name: "Babbage", entityType: "person", observations: [] }] });
  await same("read_graph", {});
  // Inputs the schemas refuse.
  await same("create_entities", { entities: [{ name: "no type", observations: [] }] }, { invalid: true });
  await same("create_entities", {}, { invalid: true });
  await same("delete_entities", { entityNames: "Babbage" }, { invalid: true });
  await same("add_observations", { observations: [{ entityName: "Babbage", contents: [1] }] }, { invalid: true });
  await same("search_nodes", {}, { invalid: true });
  await same("read_graph", {});
}

// A seeded random sequence over a small vocabulary, so that calls collide:
// names created twice, relations to deleted entities, observations added
// and removed. Within one call no name (or relation, or observation) is
// given twice: there the reference server stores duplicates and inmem
// stores one (see the README).
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
}

async function randomCalls(seed, n) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const some = (xs, max) => {
    const k = 1 + Math.floor(r() * max);
    return [...xs].sort(() => r() - 0.5).slice(0, Math.min(k, xs.length));
  };
  const names = ["alice", "Bob", "carol", "DAVE", "eve", "Frank", "grace", "héloïse"];
  const types = ["person", "project", "Org"];
  const obs = ["likes tea", "works at ACME", "has a cat", "Speaks French", "born 1990", "likes TEA", "<b>bold</b> & co"];
  const rtypes = ["knows", "works_with", "manages"];
  const queries = ["li", "TEA", "acme", "o", "person", "zz", "ÉLOÏ", "", "&"];
  const triple = () => ({ from: pick(names), to: pick(names), relationType: pick(rtypes) });
  const triples = (max) => {
    const seen = new Map();
    for (let i = 0; i < 1 + Math.floor(r() * max); i++) { const t = triple(); seen.set(JSON.stringify(t), t); }
    return [...seen.values()];
  };
  for (let i = 0; i < n; i++) {
    switch (pick(["ce", "ce", "cr", "cr", "ao", "ao", "de", "do", "dr", "rg", "sn", "on"])) {
      case "ce": await same("create_entities", { entities: some(names, 3).map((name) => ({ name, entityType: pick(types), observations: some(obs, 2) })) }); break;
      case "cr": await same("create_relations", { relations: triples(3) }); break;
      case "ao": await same("add_observations", { observations: some(names, 2).map((entityName) => ({ entityName, contents: some(obs, 3) })) }); break;
      case "de": await same("delete_entities", { entityNames: some(names, 2) }); break;
      case "do": await same("delete_observations", { deletions: some(names, 2).map((entityName) => ({ entityName, observations: some(obs, 2) })) }); break;
      case "dr": await same("delete_relations", { relations: triples(2) }); break;
      case "rg": await same("read_graph", {}); break;
      case "sn": await same("search_nodes", { query: pick(queries) }); break;
      case "on": await same("open_nodes", { names: some([...names, "nobody"], 3) }); break;
    }
  }
}

try {
  await start(ref);
  await start(inm);
  await compareTools();
  await scenario();
  await randomCalls(SEED, OPS);
  const before = await same("read_graph", {});
  // Both servers restart from their files: the graph is what was written.
  for (const s of [ref, inm]) { await stop(s); await start(s); }
  const after = await same("read_graph", {});
  if (!isDeepStrictEqual(before, after)) fail("read_graph before and after a restart", before, after);
  // The reference's file, imported into a new database, is the same graph.
  await stop(inm);
  execFileSync(bin, ["import", join(work, "db2"), ref.env.MEMORY_FILE_PATH, "--memory"], { stdio: "inherit" });
  inm.args = ["serve", join(work, "db2"), "--mcp"];
  await start(inm);
  await same("read_graph", {});
  console.log(`identical: ${TOOLS.length} tool definitions and ${calls} calls (seed ${SEED}); ` +
    `${after.structured.entities.length} entities and ${after.structured.relations.length} relations at the end`);
  console.log(`time in calls: reference ${ref.ms.toFixed(0)} ms, inmem ${inm.ms.toFixed(0)} ms`);
  for (const s of [ref, inm]) await stop(s);
} finally {
  rmSync(work, { recursive: true, force: true });
}
