// Validates real responses against the published OpenAPI document: the operation (path template and method)
// must document the status, the content type, the headers it declares required, and the body must match the
// schema (JSON Schema 2020-12, formats included). Each validated (operation, status) is recorded, so a test can
// prove it covered every status the document promises. An openapi-fetch middleware plugs it into the typed
// client, so whatever goes through @it/client is checked.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Middleware } from 'openapi-fetch';
import { openApiDocument, SSE_DATA_EXTENSION, type OpenApiDocument } from '@it/api';

// ajv-formats is CommonJS with `export default`: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, { required?: boolean }> }>;
}

const DOC_ID = 'openapi.json';
const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

export class ContractValidator {
  readonly document: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly operations: Operation[] = [];
  private readonly seen = new Set<string>();

  constructor(document: OpenApiDocument = openApiDocument()) {
    this.document = document;
    // strict: false because the document has OpenAPI keywords (paths, components…) around its schemas.
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(document, DOC_ID);
    for (const [template, item] of Object.entries(document.paths ?? {})) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const method of ['get', 'post', 'put', 'delete', 'patch'] as const) {
        const op = item[method];
        if (op) this.operations.push({ method, template, pattern, responses: op.responses as Operation['responses'] });
      }
    }
  }

  private operation(method: string, path: string): Operation {
    const op = this.operations.find((o) => o.method === method.toLowerCase() && o.pattern.test(path));
    if (!op) throw new Error(`undocumented operation ${method} ${path}`);
    return op;
  }

  private check(schemaPointer: string, value: unknown, what: string): void {
    const validate = this.ajv.getSchema(`${DOC_ID}#${schemaPointer}`);
    if (!validate) throw new Error(`no schema at ${schemaPointer}`);
    if (!validate(value)) throw new Error(`${what} does not match the document: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
  }

  /**
   * Throws unless the response is one the document describes. `body` is the response's text (empty for a
   * stream: pass each event's data to `validateEventData`).
   */
  validate(method: string, url: string, status: number, headers: Headers, body: string): void {
    const path = new URL(url, 'http://x').pathname;
    const op = this.operation(method, path);
    const what = `${method} ${path} → ${status}`;
    const response = op.responses[String(status)];
    if (!response) throw new Error(`${what}: status not documented (documented: ${Object.keys(op.responses).join(', ')})`);
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      if (header.required && headers.get(name) === null) throw new Error(`${what}: required header ${name} missing`);
    }
    const contentType = (headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = Object.keys(response.content ?? {});
    if (!media.includes(contentType)) throw new Error(`${what}: content type ${contentType} not documented (${media.join(', ')})`);
    if (contentType === 'application/json') {
      const base = pointer('', 'paths', op.template, op.method, 'responses', String(status), 'content', contentType, 'schema');
      this.check(base, JSON.parse(body) as unknown, what);
    }
    this.seen.add(`${op.method.toUpperCase()} ${op.template} ${status}`);
  }

  /** One SSE `data:` payload of the events operation, against the schema the document names for it. */
  validateEventData(data: string): void {
    const events = this.operations.find((o) => o.template.endsWith('/events'))!;
    const ref = (this.document.paths?.[events.template]?.get as Record<string, unknown>)[SSE_DATA_EXTENSION] as { $ref: string };
    this.check(ref.$ref.slice(1), JSON.parse(data) as unknown, 'event data');
  }

  /** Every documented (operation, status) that no validated response has shown yet. */
  uncovered(): string[] {
    const all = this.operations.flatMap((o) => Object.keys(o.responses).map((s) => `${o.method.toUpperCase()} ${o.template} ${s}`));
    return all.filter((key) => !this.seen.has(key));
  }

  /** For the typed client: every response it receives is validated (streams: status and headers only). */
  middleware(): Middleware {
    return {
      onResponse: async ({ request, response }) => {
        const text = (response.headers.get('content-type') ?? '').startsWith('text/event-stream') ? '' : await response.clone().text();
        this.validate(request.method, request.url, response.status, response.headers, text);
        return undefined;
      },
    };
  }
}
