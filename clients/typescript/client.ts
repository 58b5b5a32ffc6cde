// A small client of the import API on plain fetch, typed by the types generated from openapi/openapi.json:
// it signs in, starts an import, pushes a tax and a product, commits, waits for the end and prints the final
// status as JSON. Run (after `npm run build`): node build/client.js BASE_URL CLIENT_ID CLIENT_SECRET NUMBER
import type { components, operations } from "./generated/openapi";

type Schemas = components["schemas"];
type TokenRequest = Schemas["TokenRequest"];
type TokenResponse = Schemas["TokenResponse"];
type ImportConfig = Schemas["ImportConfig"];
type ImportOut = Schemas["ImportOut"];
type RecordBatch = Schemas["RecordBatch"];
type ProductRecord = Schemas["ProductRecord"];
type TaxRecord = Schemas["TaxRecord"];
type PushResult = operations["push_records"]["responses"][200]["content"]["application/json"];
type Status = Schemas["Status"];
type ErrorResponse = Schemas["ErrorResponse"];

declare const process: { argv: string[]; exitCode?: number };

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorResponse,
  ) {
    super(`${status} ${body.code}: ${body.message}`);
  }
}

class ImportClient {
  private token = "";

  constructor(private readonly baseUrl: string) {}

  async signIn(credentials: TokenRequest): Promise<void> {
    const answer = await this.call<TokenResponse>("POST", "/api/oauth/token", credentials, false);
    this.token = answer.access_token;
  }

  start(config: ImportConfig): Promise<ImportOut> {
    return this.call<ImportOut>("POST", "/api/import/catalog/start", config);
  }

  push(importId: string, batch: RecordBatch): Promise<PushResult> {
    return this.call<PushResult>("POST", `/api/import/${importId}/record`, batch);
  }

  async commit(importId: string): Promise<void> {
    await this.call<null>("POST", `/api/import/${importId}/commit`);
  }

  status(importId: string): Promise<Status> {
    return this.call<Status>("GET", `/api/import/${importId}/status`);
  }

  async done(importId: string, timeoutMs = 60_000): Promise<Status> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status(importId);
      if (status.status === "done" || status.status === "cancelled") {
        return status;
      }
      if (Date.now() > deadline) {
        throw new Error(`import ${importId} not done after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async call<T>(method: string, path: string, body?: unknown, signedIn = true): Promise<T> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (signedIn) {
      headers["authorization"] = `Bearer ${this.token}`;
    }
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`${this.baseUrl}${path}`, init);
    if (!response.ok) {
      throw new ApiError(response.status, (await response.json()) as ErrorResponse);
    }
    return (response.status === 204 ? null : await response.json()) as T;
  }
}

async function main(baseUrl: string, clientId: string, clientSecret: string, number: string): Promise<void> {
  const client = new ImportClient(baseUrl);
  await client.signIn({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret });
  const started = await client.start({ name: "typescript client" });
  const tax: TaxRecord = { name: "Typescript rate", taxRate: 7 };
  const product: ProductRecord = {
    productNumber: number,
    name: "From TypeScript",
    tax: { name: "Typescript rate" },
    prices: [{ currency: "EUR", gross: 10.7, net: "10" }],
    stock: "12",
  };
  const pushed = await client.push(started.id, { taxes: [tax], products: [product] });
  if (pushed.containsErrors) {
    throw new Error(`records refused: ${JSON.stringify(pushed.records)}`);
  }
  await client.commit(started.id);
  const status = await client.done(started.id);
  console.log(JSON.stringify({ pushed, status }));
}

const [baseUrl, clientId, clientSecret, number] = process.argv.slice(2);
if (!baseUrl || !clientId || !clientSecret || !number) {
  console.error("usage: node build/client.js BASE_URL CLIENT_ID CLIENT_SECRET PRODUCT_NUMBER");
  process.exitCode = 2;
} else {
  main(baseUrl, clientId, clientSecret, number).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
