// A third-party MCP client for kubeshark: the official TypeScript SDK
// drives `kubeshark mcp` (stdio) or `kubeshark hub` (Streamable HTTP) and
// checks what an assistant built on that SDK would rely on. It is run by
// cmd/kubeshark/tsclient_test.go against a store imported from
// `kubeshark sample`, but works against any store holding HTTP 503s.
//
// Usage:
//   node client.mjs stdio BINARY DATA_DIR   spawns BINARY mcp --data DATA_DIR
//   node client.mjs http URL [TOKEN]        URL of the hub's /mcp; the token
//                                           may come from KUBESHARK_HUB_TOKEN
//                                           instead, to keep it out of ps
//
// On success it prints one JSON object of findings to stdout and exits 0;
// on the first failed check it prints "tsclient: FAIL: ..." to stderr and
// exits 1.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under ESM its function may sit on .default.
const addFormats = addFormatsModule.default ?? addFormatsModule;

// The tools an assistant is told about in the server's instructions and
// prompts; each must be advertised with an output schema.
const EXPECTED_TOOLS = [
    'list_api_calls',
    'get_api_call',
    'get_data_boundaries',
    'list_l4_flows',
    'get_l4_flow_summary',
    'get_tcp_insights',
    'list_dissectors',
    'get_dissection_status',
];

const ERROR_BODY = 'service temporarily unavailable';
const FILTER_503 = 'http && status_code == 503';
const BAD_FILTER = 'http && status_code >';
const PROMPT_START = '2020-01-01T00:00:00Z';
const PROMPT_END = '2030-01-01T00:00:00Z';
// Longer than any single step should take; a hung server fails the run
// with a message rather than leaving the test to its own timeout.
const REQUEST_TIMEOUT_MS = 30_000;
const OVERALL_TIMEOUT_MS = 90_000;

class CheckError extends Error {}

function check(cond, msg) {
    if (!cond) {
        throw new CheckError(msg);
    }
}

function usage() {
    return 'usage: node client.mjs stdio BINARY DATA_DIR | node client.mjs http URL [TOKEN] (token also from KUBESHARK_HUB_TOKEN)';
}

// makeTransport builds the transport named on the command line. stderr
// collects the stdio server's diagnostics so that a failure can show them.
function makeTransport(argv, stderr) {
    const [mode, a, b] = argv;
    if (mode === 'stdio') {
        check(a && b, usage());
        const t = new StdioClientTransport({ command: a, args: ['mcp', '--data', b], stderr: 'pipe' });
        t.stderr?.on('data', chunk => stderr.push(chunk.toString()));
        return { transport: t, target: `${a} mcp --data ${b}` };
    }
    if (mode === 'http') {
        const token = b || process.env.KUBESHARK_HUB_TOKEN;
        check(a && token, usage());
        let url;
        try {
            url = new URL(a);
        } catch (e) {
            throw new CheckError(`bad URL ${JSON.stringify(a)}: ${e.message}`);
        }
        const t = new StreamableHTTPClientTransport(url, {
            requestInit: { headers: { Authorization: `Bearer ${token}` } },
        });
        return { transport: t, target: url.href };
    }
    throw new CheckError(usage());
}

function newValidator() {
    // MCP's default schema dialect is JSON Schema 2020-12. This is a second
    // validator, independent of the one the SDK's Client runs, so that a
    // change in the SDK's behaviour cannot make the checks vacuous.
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    return ajv;
}

// validate checks structuredContent against the tool's outputSchema, and
// that the schema rejects a corrupted copy: a schema that accepts
// anything would otherwise pass every check.
function validate(ajv, tool, value, corrupt) {
    const fn = ajv.compile(tool.outputSchema);
    check(fn(value), `${tool.name}: structuredContent does not match its outputSchema: ${ajv.errorsText(fn.errors)}`);
    const bad = corrupt(structuredClone(value));
    check(!fn(bad), `${tool.name}: outputSchema accepts a corrupted result, so it validates nothing`);
}

function textOf(result) {
    return (result.content ?? []).filter(c => c.type === 'text').map(c => c.text).join('\n');
}

async function callTool(client, name, args) {
    // The SDK validates structuredContent against the outputSchema cached
    // by listTools and throws McpError when it does not match.
    return client.callTool({ name, arguments: args }, undefined, { timeout: REQUEST_TIMEOUT_MS });
}

async function run(client, findings) {
    const opts = { timeout: REQUEST_TIMEOUT_MS };
    const server = client.getServerVersion();
    check(server?.name === 'kubeshark', `server calls itself ${JSON.stringify(server)}, want kubeshark`);
    findings.server = server;
    findings.instructions_name_list_api_calls = (client.getInstructions() ?? '').includes('list_api_calls');

    // Tools: every expected one, each with an object outputSchema.
    const tools = [];
    let cursor;
    do {
        const page = await client.listTools(cursor ? { cursor } : {}, opts);
        tools.push(...page.tools);
        cursor = page.nextCursor;
    } while (cursor);
    const byName = new Map(tools.map(t => [t.name, t]));
    for (const name of EXPECTED_TOOLS) {
        check(byName.has(name), `tool ${name} is not listed; got ${[...byName.keys()].join(', ')}`);
    }
    for (const t of tools) {
        check(t.outputSchema?.type === 'object', `tool ${t.name} has no object outputSchema`);
        check(t.inputSchema?.type === 'object', `tool ${t.name} has no object inputSchema`);
    }
    check(byName.get('list_api_calls').inputSchema.properties?.kfl, 'list_api_calls does not take kfl');
    findings.tools = tools.map(t => t.name).sort();
    // The SDK (1.32) compiles a validator per outputSchema in listTools and
    // applies it in callTool; make sure it did, so that its check counts.
    for (const name of ['list_api_calls', 'get_api_call']) {
        check(typeof client.getToolOutputValidator?.(name) === 'function', `the SDK holds no output validator for ${name}`);
    }
    findings.sdk_validates_output = true;

    const ajv = newValidator();

    // Every 503, page by page.
    const listTool = byName.get('list_api_calls');
    const ids = [];
    let next = '';
    let pages = 0;
    do {
        const args = { kfl: FILTER_503, limit: 1000, order: 'oldest' };
        if (next) {
            args.cursor = next;
        }
        const res = await callTool(client, 'list_api_calls', args);
        check(!res.isError, `list_api_calls ${JSON.stringify(args)}: tool error: ${textOf(res)}`);
        const sc = res.structuredContent;
        check(sc && Array.isArray(sc.calls), `list_api_calls: no structuredContent.calls`);
        check(sc.returned === sc.calls.length, `list_api_calls: returned=${sc.returned} but ${sc.calls.length} calls`);
        check(sc.filter === FILTER_503, `list_api_calls: filter echoed as ${JSON.stringify(sc.filter)}`);
        validate(ajv, listTool, sc, v => {
            if (v.calls.length > 0) {
                v.calls[0].status = 'five hundred and three';
            } else {
                v.returned = 'none';
            }
            return v;
        });
        for (const c of sc.calls) {
            check(c.status === 503, `list_api_calls ${FILTER_503}: call ${c.id} has status ${c.status}`);
            check(c.protocol === 'http', `list_api_calls ${FILTER_503}: call ${c.id} has protocol ${c.protocol}`);
            ids.push(c.id);
        }
        check(textOf(res).includes(`${sc.returned} calls`), `list_api_calls: text summary ${JSON.stringify(textOf(res).slice(0, 80))} does not give the count`);
        next = sc.next_cursor ?? '';
        pages++;
        check(pages < 100, 'list_api_calls: more than 100 pages; the cursor does not advance');
    } while (next);
    check(ids.length > 0, `list_api_calls ${FILTER_503}: no calls; the store should hold some 503s`);
    check(new Set(ids).size === ids.length, 'list_api_calls: a call id is listed twice across pages');
    findings.count_503 = ids.length;
    findings.ids_503 = ids;

    // One 503 in full, with its body.
    const getTool = byName.get('get_api_call');
    const one = await callTool(client, 'get_api_call', { id: ids[0], include_payload: true });
    check(!one.isError, `get_api_call ${ids[0]}: tool error: ${textOf(one)}`);
    const call = one.structuredContent?.call;
    check(call?.id === ids[0], `get_api_call ${ids[0]}: returned call ${call?.id}`);
    check(call.status === 503, `get_api_call ${ids[0]}: status ${call.status}`);
    const body = call.response?.body ?? '';
    check(body.includes(ERROR_BODY), `get_api_call ${ids[0]}: response body ${JSON.stringify(body.slice(0, 200))} lacks ${JSON.stringify(ERROR_BODY)}`);
    validate(ajv, getTool, one.structuredContent, v => {
        v.call.response.body_size = 'large';
        return v;
    });
    findings.get_api_call = { id: call.id, status: call.status, body_excerpt: body.slice(0, 80) };

    // A bad filter is a tool error (isError with a message), not a
    // protocol error: the model must be able to read it and retry.
    const bad = await callTool(client, 'list_api_calls', { kfl: BAD_FILTER });
    check(bad.isError === true, `list_api_calls kfl=${JSON.stringify(BAD_FILTER)}: isError=${bad.isError}, want true`);
    const badText = textOf(bad);
    check(/kfl/i.test(badText), `list_api_calls kfl=${JSON.stringify(BAD_FILTER)}: error ${JSON.stringify(badText)} does not name kfl`);
    findings.bad_kfl_error = badText;

    // Resources.
    const resources = (await client.listResources({}, opts)).resources.map(r => r.uri);
    for (const uri of ['kubeshark://kfl', 'kubeshark://status']) {
        check(resources.includes(uri), `resource ${uri} is not listed; got ${resources.join(', ')}`);
    }
    const kfl = (await client.readResource({ uri: 'kubeshark://kfl' }, opts)).contents;
    check(kfl.length === 1 && kfl[0].mimeType === 'text/markdown', `kubeshark://kfl: ${kfl.length} contents, mimeType ${kfl[0]?.mimeType}`);
    check(/^#/m.test(kfl[0].text) && kfl[0].text.includes('status_code'), 'kubeshark://kfl: not markdown naming status_code');
    findings.kfl_reference_chars = kfl[0].text.length;
    const statusRes = (await client.readResource({ uri: 'kubeshark://status' }, opts)).contents;
    check(statusRes.length === 1 && statusRes[0].mimeType === 'application/json', `kubeshark://status: mimeType ${statusRes[0]?.mimeType}`);
    let status;
    try {
        status = JSON.parse(statusRes[0].text);
    } catch (e) {
        throw new CheckError(`kubeshark://status: not JSON: ${e.message}`);
    }
    check(Number.isInteger(status?.data?.records?.count), `kubeshark://status: no data.records.count in ${statusRes[0].text.slice(0, 200)}`);
    check(status.data.records.count >= ids.length, `kubeshark://status: ${status.data.records.count} records, fewer than the ${ids.length} 503s`);
    findings.status = { records: status.data.records.count, failed: status.data.failed, by_protocol: status.data.by_protocol };

    // Prompts.
    const prompts = (await client.listPrompts({}, opts)).prompts;
    const fe = prompts.find(p => p.name === 'find_errors');
    check(fe, `prompt find_errors is not listed; got ${prompts.map(p => p.name).join(', ')}`);
    const argNames = (fe.arguments ?? []).map(a => a.name);
    check(argNames.includes('start') && argNames.includes('end'), `prompt find_errors takes ${argNames.join(', ')}, want start and end`);
    const got = await client.getPrompt({ name: 'find_errors', arguments: { start: PROMPT_START, end: PROMPT_END } }, opts);
    const ptext = got.messages.filter(m => m.content?.type === 'text').map(m => m.content.text).join('\n');
    check(ptext.includes('list_api_calls'), `prompt find_errors does not name list_api_calls: ${JSON.stringify(ptext.slice(0, 200))}`);
    check(ptext.includes(PROMPT_START) && ptext.includes(PROMPT_END), 'prompt find_errors does not carry the start and end it was given');
    findings.prompts = prompts.map(p => p.name).sort();
    findings.find_errors_chars = ptext.length;
}

async function main() {
    const argv = process.argv.slice(2);
    const stderr = [];
    const { transport, target } = makeTransport(argv, stderr);
    const client = new Client({ name: 'kubeshark-tsclient-test', version: '1.0.0' });
    const findings = { transport: argv[0], target };
    const timer = setTimeout(() => {
        fail(new CheckError(`no result after ${OVERALL_TIMEOUT_MS} ms`), stderr);
    }, OVERALL_TIMEOUT_MS);
    timer.unref();
    try {
        await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
        await run(client, findings);
    } catch (e) {
        await client.close().catch(() => {});
        fail(e, stderr);
        return;
    }
    // close waits for a stdio server to exit, so that the store's lock is
    // free when this process ends.
    await client.close();
    clearTimeout(timer);
    process.stdout.write(JSON.stringify(findings) + '\n');
}

function fail(e, stderr) {
    let what = e instanceof CheckError ? e.message : `${e?.name ?? 'error'}: ${e?.message ?? e}`;
    // fetch hides why it failed (refused, reset, DNS) in cause.
    if (e?.cause) {
        what += ` (${e.cause.message ?? e.cause})`;
    }
    let msg = `tsclient: FAIL: ${what}\n`;
    const server = stderr.join('').trim();
    if (server) {
        msg += `server stderr:\n${server.slice(-4000)}\n`;
    }
    process.stderr.write(msg);
    process.exit(1);
}

main().catch(e => fail(e, []));
