// Uses the types generated from openapi/openapi.json the way a client does, so that `tsc --noEmit --strict`
// checks them: it builds a push body with a product and reads a push result, an import's status and an
// error. The `@ts-expect-error` lines must stay errors: they show that the types are precise, not `any`.
import type { components, operations } from "./generated/openapi";

type PushBody = operations["push_records"]["requestBody"]["content"]["application/json"];
type PushResult = operations["push_records"]["responses"][200]["content"]["application/json"];
type ProductRecord = components["schemas"]["ProductRecord"];
type Status = components["schemas"]["Status"];
type ImportStatus = components["schemas"]["ImportStatus"];
type ErrorResponse = components["schemas"]["ErrorResponse"];

const product: ProductRecord = {
  productNumber: "TS-1",
  name: "Typed product",
  tax: { name: "Standard rate", taxRate: 19 },
  prices: [{ currency: "EUR", gross: 11.9, net: "10", linked: true }],
  stock: 100,
  categories: [{ path: ["Home", "Shoes"] }],
  media: [{ url: "https://example.com/shoe.jpg", title: "Shoe" }],
  properties: [{ group: "Color", option: "Red" }],
};

export const body: PushBody = {
  taxes: [{ name: "Standard rate", taxRate: 19 }],
  categories: [{ name: "Home" }, { name: "Shoes", parent: ["Home"] }],
  products: [product],
};

// @ts-expect-error a price needs its net amount
export const priceWithoutNet: ProductRecord = { prices: [{ currency: "EUR", gross: 1 }] };
// @ts-expect-error records are closed: no field outside the contract
export const misspelled: ProductRecord = { productNumbr: "TS-2" };

export function failedRecords(result: PushResult): string[] {
  return result.records.filter((record) => record.errors.length > 0).map((record) => record.path);
}

export function finished(status: Status): boolean {
  const final: ImportStatus[] = ["done", "cancelled"];
  return final.includes(status.status);
}

export function summary(status: Status): string {
  const failed = status.failures.flatMap((failure) =>
    failure.details.map((detail) => `${failure.path ?? failure.entity}: ${detail.code} (${detail.severity})`),
  );
  return [`${status.status}: ${status.totals.total} written, ${status.totals.failures} failed`, ...failed].join(
    "\n",
  );
}

export function percentDone(status: Status): number {
  const { total, processed } = status.progress;
  return total === 0 ? 100 : Math.round((processed / total) * 100);
}

export function productsWritten(status: Status): number {
  return status.totals.product;
}

// @ts-expect-error totals are counted per entity: "products" is no key of them
export const productsTotal = (status: Status): number => status.totals.products;

// @ts-expect-error an import is never "failed": failures are per record
export const failedStatus: ImportStatus = "failed";

export function message(error: ErrorResponse): string {
  return `${error.code}: ${error.message}`;
}
